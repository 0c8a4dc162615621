"""Perturbation unit model: the +1, -2, +1 sequence restores every weight bit for bit, and any
overflow that could break that is flagged."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.util import assert_spec_error
from zoforge.golden.perturb import PerturbSpec, perturb_codes
from zoforge.golden.spec import SpecError, parse


def random_codes(rng, fmt, shape):
    return rng.integers(fmt.min_code, fmt.max_code + 1, size=shape)


@st.composite
def perturb_specs(draw):
    w_bits, z_bits = draw(st.integers(2, 32)), draw(st.integers(2, 32))
    w_frac, z_frac = draw(st.integers(0, 40)), draw(st.integers(0, 40))
    eps_mul = draw(st.sampled_from([1, 1, 3, 255, 65535]))
    # eps_shift at most where |eps*z| can still reach one weight LSB (the validator's bound)
    top = max(0, w_frac - z_frac + z_bits + eps_mul.bit_length() - 2)
    kwargs = dict(lanes=draw(st.integers(1, 8)), w_bits=w_bits, w_frac=w_frac, z_bits=z_bits, z_frac=z_frac,
                  eps_mul=eps_mul, eps_shift=draw(st.integers(0, min(top, 63))),
                  rounding=draw(st.sampled_from(["nearest_even", "half_up", "floor"])),
                  overflow=draw(st.sampled_from(["saturate", "wrap"])))
    try:
        return PerturbSpec(**kwargs)
    except SpecError:
        assume(False)


@settings(max_examples=300, deadline=None)
@given(spec=perturb_specs(), seed=st.integers(0, 2 ** 32), beats=st.integers(1, 40))
def test_plus_minus2_plus_restores_every_weight(spec, seed, beats):
    rng = np.random.default_rng(seed)
    w0 = random_codes(rng, spec.w_format, (beats, spec.lanes))
    z = random_codes(rng, spec.z_format, (beats, spec.lanes))
    w1, f1 = perturb_codes(spec, w0, z, 1)
    w2, f2 = perturb_codes(spec, w1, z, -2)
    w3, f3 = perturb_codes(spec, w2, z, 1)
    flagged = f1 | f2 | f3
    if spec.overflow == "wrap":
        assert (w3 == w0).all()                     # modular arithmetic restores even through overflow
    else:
        assert (w3[~flagged] == w0[~flagged]).all()  # only flagged weights may differ ...
    assert not (w3 != w0)[~flagged].any()            # ... so a wrong restore is never hidden
    d = spec.delta(z)
    assert (w1[~f1] == (w0 + d)[~f1]).all() and (w2[~f2] == (w1 - 2 * d)[~f2]).all()


@settings(max_examples=100, deadline=None)
@given(spec=perturb_specs(), seed=st.integers(0, 2 ** 32))
def test_delta_is_eps_times_z_rounded_to_weight_lsbs(spec, seed):
    z = random_codes(np.random.default_rng(seed), spec.z_format, 50)
    d = spec.delta(z)
    for zi, di in zip(z.tolist(), d.tolist()):
        exact = Fraction(spec.eps_mul * zi, 2 ** spec.eps_shift) * Fraction(2 ** spec.w_frac, 2 ** spec.z_frac)
        assert abs(di - exact) <= (1 if spec.rounding == "floor" else Fraction(1, 2))
        if spec.rounding == "floor":
            assert di <= exact


def test_saturation_is_flagged_and_breaks_only_flagged_weights():
    spec = parse("perturb:lanes=4,w_bits=8,w_frac=4,z_bits=8,z_frac=6,eps_shift=0")
    w0 = np.array([[127, -128, 0, 100]])
    z = np.array([[127, -128, 64, 0]])                 # deltas 32, -32, 16, 0
    assert spec.delta(z).tolist() == [[32, -32, 16, 0]]
    w1, f1 = spec.golden(w0, z, 1)
    assert w1.tolist() == [[127, -128, 16, 100]] and f1.tolist() == [[True, True, False, False]]
    wrap = spec.replace(overflow="wrap")
    w1w, f1w = wrap.golden(w0, z, 1)
    assert w1w.tolist() == [[-97, 96, 16, 100]] and (f1w == f1).all()


def test_scale_per_beat_and_pass_through():
    spec = PerturbSpec(lanes=2)
    w = np.array([[10, 20], [30, 40], [50, 60], [70, 80]])
    z = np.full((4, 2), 1 << 12)                      # eps*z = 2**-8 * 2**-2 = 4 LSBs of sQ3.12
    out, _ = spec.golden(w, z, np.array([1, -1, -2, 0]))
    assert out.tolist() == [[14, 24], [26, 36], [42, 52], [70, 80]]
    with pytest.raises(ValueError, match="s must be"):
        spec.golden(w, z, 2)


def test_defaults_presets_and_formats():
    spec = parse("perturb")
    assert parse(str(spec)) == spec
    assert str(spec.w_format) == "sQ3.12" and str(spec.z_format) == "sQ1.14" and spec.eps == 2 ** -8
    assert str(parse("perturb-gauss16").z_format) == "sQ3.12"
    assert abs(parse("perturb-mul").eps - 1e-3) < 2e-5


@pytest.mark.parametrize("text, words", [
    ("perturb:eps_shift=40", ["eps_shift=40", "< 1 weight LSB", "eps_shift must be <= 13"]),
    ("perturb:w_frac=48,z_frac=0,z_bits=32,eps_shift=0", ["w_frac=48", "delta"]),
    ("perturb:rounding=stochastic", ["rounding='stochastic'", "nearest_even|half_up|floor"]),
    ("perturb:lanes=0", ["lanes=0", "[1, 64]"]),
])
def test_invalid_specs_name_the_parameter(text, words):
    assert_spec_error(text, words)
