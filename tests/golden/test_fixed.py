"""Fixed-point formats, rounding and overflow: the numpy helpers against exact definitions."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoforge.golden.fixed import (
    ROUNDINGS,
    FixedFormat,
    accumulator_bits,
    fit,
    overflowed,
    product_range,
    requantize,
    shift_round,
    signed_bits_for,
)


def round_fraction(value: Fraction, rounding: str) -> int:
    """The module docstring's deterministic roundings, on exact fractions."""
    q = math.floor(value)
    if rounding == "floor":
        return q
    if rounding == "half_up":
        return math.floor(value + Fraction(1, 2))
    rest = value - q
    return q + (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and q % 2 == 1))


def reference_round(x: int, k: int, rounding: str, u: int = 0) -> int:
    if k <= 0:
        return x * 2 ** -k
    if rounding == "stochastic":
        return math.floor(Fraction(x + u % 2 ** k, 2 ** k))
    return round_fraction(Fraction(x, 2 ** k), rounding)


def test_format_basics_stay_compatible():
    f = FixedFormat(16, 12)
    assert (f.bits, f.frac, f.signed, f.int_bits) == (16, 12, True, 3)
    assert (f.min_code, f.max_code) == (-32768, 32767)
    assert str(f) == "sQ3.12" and str(FixedFormat(8, 8, signed=False)) == "uQ0.8"
    assert f.to_float([4096, -2048]).tolist() == [1.0, -0.5]
    for fmt in [f, FixedFormat(8, 8, False), FixedFormat(12, 14), FixedFormat(1, 0, False), FixedFormat(64, 30)]:
        assert FixedFormat.parse(str(fmt)) == fmt
    with pytest.raises(ValueError, match="bits=0"):
        FixedFormat(0, 0)
    with pytest.raises(ValueError, match="sQ"):
        FixedFormat.parse("Q3.12")


@pytest.mark.parametrize("rounding", ["floor", "half_up", "nearest_even"])
def test_from_float_rounds_the_exact_scaled_value(rounding):
    f = FixedFormat(8, 2)
    values = [0.125, 0.375, -0.125, -0.375, 0.3, -0.3, 100.0, -100.0, 1.1249, 31.875]
    expected = [min(max(round_fraction(Fraction(v) * 4, rounding), -128), 127) for v in values]
    assert f.from_float(values, rounding).tolist() == expected
    assert f.from_float([0.125, 0.375], "nearest_even").tolist() == [0, 2]
    with pytest.raises(ValueError, match="stochastic"):
        f.from_float([0.1], "stochastic")


@pytest.mark.parametrize("rounding", ["floor", "half_up", "nearest_even"])
def test_shift_round_matches_the_definitions_exhaustively(rounding):
    x = np.arange(-600, 601)
    for k in range(-3, 8):
        got = shift_round(x, k, rounding)
        assert got.tolist() == [reference_round(int(v), k, rounding) for v in x], k


def test_nearest_even_hardware_formula_equals_definition():
    x = np.arange(-5000, 5001, dtype=np.int64)
    for k in range(1, 10):
        carry = (x + (1 << (k - 1)) - 1 + ((x >> k) & 1)) >> k
        assert (carry == shift_round(x, k, "nearest_even")).all()


def test_stochastic_rounds_up_with_probability_r_over_2k():
    k = 5
    u = np.arange(1 << k)
    for x in range(-70, 70):
        rounded = shift_round(np.full(u.shape, x), k, "stochastic", u)
        q = x >> k
        assert set(rounded.tolist()) <= {q, q + 1}
        assert (rounded == q + 1).sum() == x - (q << k)        # exactly r of the 2**k offsets round up
        assert rounded.sum() == x                              # so the mean is x / 2**k: unbiased
        assert rounded.tolist() == [reference_round(x, k, "stochastic", int(v)) for v in u]
    with pytest.raises(ValueError, match="random_bits"):
        shift_round([1], 3, "stochastic")


def test_fit_wraps_or_saturates_and_flags():
    f = FixedFormat(4, 0)
    codes = np.arange(-20, 21)
    assert fit(codes, f, "saturate").tolist() == np.clip(codes, -8, 7).tolist()
    assert fit(codes, f, "wrap").tolist() == [((int(c) + 8) % 16) - 8 for c in codes]
    assert overflowed(codes, f).tolist() == [not -8 <= c <= 7 for c in codes]
    u = FixedFormat(4, 0, signed=False)
    assert fit(codes, u, "wrap").tolist() == [int(c) % 16 for c in codes]
    assert fit(codes, u, "saturate").tolist() == np.clip(codes, 0, 15).tolist()
    with pytest.raises(ValueError, match="overflow='clip'"):
        fit(codes, f, "clip")
    with pytest.raises(ValueError, match="rounding='up'"):
        shift_round(codes, 2, "up")


@settings(max_examples=60, deadline=None)
@given(x=st.lists(st.integers(-(1 << 31), 1 << 31), min_size=1, max_size=20), from_frac=st.integers(0, 30),
       bits=st.integers(2, 40), frac=st.integers(0, 30), rounding=st.sampled_from(ROUNDINGS),
       overflow=st.sampled_from(["wrap", "saturate"]), seed=st.integers(0, 2 ** 32))
def test_requantize_is_round_then_fit(x, from_frac, bits, frac, rounding, overflow, seed):
    fmt = FixedFormat(bits, frac)
    rnd = np.random.default_rng(seed).integers(0, 1 << 62, size=len(x))
    got = requantize(x, from_frac, fmt, rounding, overflow, rnd)
    k = from_frac - frac
    for v, r, g in zip(x, rnd, got):
        exact = reference_round(v, k, rounding, int(r))
        lo, hi = fmt.min_code, fmt.max_code
        expected = min(max(exact, lo), hi) if overflow == "saturate" else ((exact - lo) % (1 << bits)) + lo
        assert g == expected


def test_accumulator_bits_are_tight():
    for a_bits, w_bits, terms in [(8, 8, 1), (8, 8, 4096), (16, 16, 65536), (4, 3, 7), (2, 2, 1)]:
        a, w = FixedFormat(a_bits, 0), FixedFormat(w_bits, 0)
        n = accumulator_bits(a, w, terms)
        lo, hi = product_range(a, w)
        assert hi == 1 << (a_bits + w_bits - 2)                      # (-2**(a-1)) * (-2**(w-1))
        assert signed_bits_for(terms * lo, terms * hi) == n
        assert terms * hi <= (1 << (n - 1)) - 1                      # fits ...
        assert terms * hi > (1 << (n - 2)) - 1 or terms * lo < -(1 << (n - 2))   # ... and one bit fewer does not
    assert accumulator_bits(FixedFormat(8, 0), FixedFormat(8, 0), 1) == 16
