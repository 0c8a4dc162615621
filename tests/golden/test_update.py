"""Update unit model: w - round(c*z + lambda*w) against exact fractions, unbiased stochastic rounding
from the LFSR, weight decay, overflow flags, validation."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.golden.test_fixed import round_fraction
from tests.util import assert_spec_error
from zoforge.golden.lfsr import lfsr_words
from zoforge.golden.spec import SpecError, parse
from zoforge.golden.update import UpdateSpec, update_codes


def random_codes(rng, fmt, shape):
    return rng.integers(fmt.min_code, fmt.max_code + 1, size=shape)


def exact_update(spec, w, z, c, decay_en=1):
    """The real-valued update, in weight LSBs, as a Fraction (of Python ints: numpy's int64 would
    overflow inside Fraction's arithmetic)."""
    w, z, c = int(w), int(z), int(c)
    term = Fraction(c, 2 ** spec.c_frac) * Fraction(z, 2 ** spec.z_frac)
    if spec.decay_mul and decay_en:
        term += Fraction(spec.decay_mul, 2 ** spec.decay_shift) * Fraction(w, 2 ** spec.w_frac)
    return term * 2 ** spec.w_frac


@st.composite
def update_specs(draw, rounding=st.sampled_from(["nearest_even", "half_up", "floor"])):
    kwargs = dict(lanes=draw(st.integers(1, 6)), w_bits=draw(st.integers(2, 32)), w_frac=draw(st.integers(0, 30)),
                  z_bits=draw(st.integers(2, 24)), z_frac=draw(st.integers(0, 24)),
                  c_bits=draw(st.integers(2, 24)), c_frac=draw(st.integers(0, 30)), rounding=draw(rounding),
                  decay_mul=draw(st.sampled_from([0, 0, 1, 5, 65535])), decay_shift=draw(st.integers(0, 40)),
                  overflow=draw(st.sampled_from(["saturate", "wrap"])))
    try:
        return UpdateSpec(**kwargs)
    except SpecError:
        assume(False)


@settings(max_examples=150, deadline=None)
@given(spec=update_specs(), seed=st.integers(0, 2 ** 32))
def test_deterministic_roundings_equal_exact_arithmetic(spec, seed):
    rng = np.random.default_rng(seed)
    w = random_codes(rng, spec.w_format, (6, spec.lanes))
    z = random_codes(rng, spec.z_format, (6, spec.lanes))
    c = random_codes(rng, spec.c_format, 6)
    en = rng.integers(0, 2, 6)
    out, sat = update_codes(spec, w, z, c, en)
    for b in range(6):
        for lane in range(spec.lanes):
            raw = int(w[b, lane]) - round_fraction(exact_update(spec, w[b, lane], z[b, lane], c[b], en[b]),
                                                   spec.rounding)
            fits = spec.w_format.min_code <= raw <= spec.w_format.max_code
            assert sat[b, lane] == (not fits)
            if fits:
                assert out[b, lane] == raw


def test_stochastic_rounding_is_unbiased_and_uses_the_lfsr():
    spec = parse("update16-sr").replace(lanes=4)
    beats = 20000
    w = np.zeros((beats, 4), dtype=np.int64)
    z = np.full((beats, 4), 3 << 12)                  # z = 0.75
    c = 5 << 5                                        # c = 160 * 2**-20; u = 0.75*c = 120 * 2**-20 = 0.46875 LSB
    out, _ = spec.golden(w, z, c)
    exact = float(exact_update(spec, 0, 3 << 12, c))
    assert set(np.unique(out).tolist()) == {0, -1}
    assert abs(-out.mean() - exact) < 0.02            # nearest-even would give 0 every time
    words = lfsr_words(spec.lfsr, beats)
    offsets = (words >> np.uint64(spec.rng_width - spec.shift)).astype(np.int64)
    assert (spec.random_bits(beats) == offsets).all()
    assert (update_codes(spec, w, z, c, random_bits=offsets)[0] == out).all()
    other, _ = spec.golden(w, z, c, seed=12345)
    assert (other != out).any() and abs(-other.mean() - exact) < 0.02


def test_weight_decay_follows_the_mezo_rule():
    spec = parse("update16-wd")                       # lambda = lr*wd = 2**-16
    w = np.array([[1 << 14, -(1 << 14)]] * 2)          # +-4.0 in sQ3.12
    z = np.zeros((2, 2), dtype=np.int64)
    out, _ = spec.golden(w, z, 0, decay_en=np.array([1, 0]))
    # 4.0 * 2**-16 = 1/4 LSB: rounds to 0 either way
    assert out.tolist() == w.tolist()
    spec = spec.replace(decay_shift=8)                 # lambda = 2**-8: 4.0 * 2**-8 = 2**-6 = 64 LSBs
    out, _ = spec.golden(w, z, 0, decay_en=np.array([1, 0]))
    assert out.tolist() == [[(1 << 14) - 64, -(1 << 14) + 64], w[1].tolist()]


def test_update_moves_against_c_times_z():
    spec = parse("update16")
    w = np.zeros((1, 8), dtype=np.int64)
    z = np.array([[1 << 14, -(1 << 14), 1 << 13, 0, 1, -1, 1 << 14, -(1 << 14)]])
    c = 1 << 12                                       # c = 2**-8
    out, _ = spec.golden(w, z, c)
    # c*z = 2**-8 * z/2**14 -> in LSBs of 2**-12: z / 2**10
    assert out.tolist() == [[-16, 16, -8, 0, 0, 0, -16, 16]]


def test_overflow_is_flagged():
    spec = UpdateSpec(lanes=2, w_bits=8, w_frac=4, z_bits=8, z_frac=6, c_bits=8, c_frac=4)
    w = np.array([[-128, 0]])
    z = np.array([[64, 64]])                          # z = 1.0
    out, sat = spec.golden(w, z, 16)                  # c = 1.0: subtract 16 LSBs
    assert out.tolist() == [[-128, -16]] and sat.tolist() == [[True, False]]
    out, sat = spec.replace(overflow="wrap").golden(w, z, 16)
    assert out.tolist() == [[112, -16]] and sat.tolist() == [[True, False]]


def test_defaults_and_presets_round_trip():
    for text in ["update", "update16", "update16-sr", "update16-wd"]:
        spec = parse(text)
        assert parse(str(spec)) == spec
    assert str(parse("update").c_format) == "sQ-5.20"
    assert parse("update16").random_bits(5) is None


@pytest.mark.parametrize("text, words", [
    ("update:rounding=stochastic,rng_width=16", ["rng_width=16", "too narrow", ">= 22"]),
    ("update:seed=70000,rng_width=16,rounding=stochastic,c_frac=12", ["seed=70000", "[1, 65535]"]),
    ("update:seed=0", ["seed=0", "[1, 4294967295]"]),
    ("update:c_frac=48,z_frac=48,w_frac=0", ["w_frac=0", "drops 96 bits"]),
    ("update:c_bits=32,z_bits=32", ["c_bits=32", "64 bits wide"]),
    ("update:decay_mul=65535,decay_shift=48,w_bits=32,c_frac=0", ["decay_shift=48", "bits wide"]),
])
def test_invalid_specs_name_the_parameter(text, words):
    assert_spec_error(text, words)
