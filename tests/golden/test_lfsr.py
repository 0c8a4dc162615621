"""The LFSR golden model: the tap catalogue, maximal period, leap-forward and lane seeding."""

import numpy as np
import pytest

from zoforge.golden.gf2 import Matrix, is_primitive, is_probable_prime
from zoforge.golden.lfsr import MAX_WIDTH, MIN_WIDTH, LFSRSpec, lfsr_words, tap_catalogue, taps_to_poly


def test_catalogue_covers_every_width():
    assert sorted(tap_catalogue()) == list(range(MIN_WIDTH, MAX_WIDTH + 1))


@pytest.mark.parametrize("width", range(MIN_WIDTH, MAX_WIDTH + 1))
def test_catalogue_polynomial_is_primitive(width):
    entry = tap_catalogue()[width]
    factors = entry["factors"]
    # The stored factorisation is a real factorisation of 2^n - 1 into primes ...
    rest = (1 << width) - 1
    for q in factors:
        assert is_probable_prime(q)
        while rest % q == 0:
            rest //= q
    assert rest == 1
    # ... so the order test proves primitivity.
    assert entry["taps"][0] == width
    assert is_primitive(taps_to_poly(entry["taps"]), factors)


@pytest.mark.parametrize("form", ["galois", "fibonacci"])
@pytest.mark.parametrize("width", range(MIN_WIDTH, MAX_WIDTH + 1))
def test_one_step_matrix_has_maximal_order(width, form):
    """The implemented one-step map (not just the polynomial) has order exactly 2^n - 1."""
    spec = LFSRSpec(width=width, form=form)
    a, identity, period = spec.matrix, Matrix.identity(width), spec.period
    assert a ** period == identity
    for q in tap_catalogue()[width]["factors"]:
        assert a ** (period // q) != identity


@pytest.mark.parametrize("form", ["galois", "fibonacci"])
def test_period_is_maximal_exhaustively_up_to_20_bits(form):
    for width in range(MIN_WIDTH, 21):
        spec = LFSRSpec(width=width, form=form)
        step, start = spec.one_step, 1
        x, count = step(start), 1
        while x != start:
            assert x != 0
            x = step(x)
            count += 1
        assert count == (1 << width) - 1, width


def test_primitive_test_rejects_known_non_primitive_polynomials():
    assert not is_primitive(0b11111, [3, 5])          # x^4+x^3+x^2+x+1: order 5, irreducible
    assert not is_primitive(0b10101, [3, 5])          # (x^2+x+1)^2: reducible
    assert is_primitive(0b10011, [3, 5])              # x^4+x+1


@pytest.mark.parametrize("spec", [
    LFSRSpec(width=16, lanes=3), LFSRSpec(width=9, lanes=2, form="fibonacci", step=5),
    LFSRSpec(width=64, lanes=2, step=1, seed=0xDEADBEEF), LFSRSpec(width=33, lanes=4, step=70),
])
def test_vectorised_words_equal_serial_one_steps(spec):
    """Leap-forward by matrix powers equals `step` single steps, and lanes start jump apart."""
    cycles = 300
    words = lfsr_words(spec, cycles)
    states = list(spec.lane_seeds())
    assert states[0] == _steps(spec, spec.seed, spec.jump)
    for lane in range(1, spec.lanes):
        assert states[lane] == _steps(spec, states[lane - 1], spec.jump) or spec.jump > 10**6
    for c in range(cycles):
        assert [int(w) for w in words[c]] == states
        states = [_steps(spec, s, spec.step) for s in states]
    assert (lfsr_words(spec, 100, start=137) == words[137:237]).all()


def _steps(spec, x, k):
    if k > 10**6:
        return (spec.matrix ** k)(x)
    for _ in range(k):
        x = spec.one_step(x)
    return x


def test_jump_is_coprime_with_period_so_lanes_are_not_linear_combinations():
    # 2^20-1 is divisible by 3: a jump of period/3 would make lane2 = lane0 ^ lane1.
    spec = LFSRSpec(width=20, lanes=3)
    import math
    assert math.gcd(spec.jump, spec.period) == 1
    w = lfsr_words(spec, 1000)
    assert not (w[:, 2] == w[:, 0] ^ w[:, 1]).all()


def test_reseed_replays_the_stream():
    spec = LFSRSpec(width=24, lanes=4)
    a = lfsr_words(spec, 50, seed=99)
    assert (a == lfsr_words(LFSRSpec(width=24, lanes=4, seed=99), 50)).all()
    with pytest.raises(ValueError, match="seed=0"):
        spec.lane_seeds(0)


def test_lane_cross_correlation_is_small():
    from zoforge.golden.uniform import UniformSpec
    codes = UniformSpec(bits=16, lanes=8, width=32).golden(100_000).astype(np.float64)
    corr = np.corrcoef(codes.T)
    np.fill_diagonal(corr, 0)
    assert np.abs(corr).max() < 5 / np.sqrt(len(codes))
