"""bf16 conversion in plain numpy: round to nearest even, truncation, specials."""

import numpy as np

from zoforge.npu.numerics import from_bf16, round_bf16, to_bf16


def nearest_even_reference(x: np.ndarray) -> np.ndarray:
    """Independent RNE: pick the nearer of the two neighbouring bf16 values in float64."""
    bits = x.view(np.uint32)
    lo = (bits & np.uint32(0xFFFF0000)).view(np.float32).astype(np.float64)
    hi_bits = (bits & np.uint32(0xFFFF0000)) + np.uint32(0x10000)
    hi = hi_bits.view(np.float32).astype(np.float64)
    xd = x.astype(np.float64)
    d_lo, d_hi = np.abs(xd - lo), np.abs(hi - xd)
    lo_even = ((bits >> 16) & 1) == 0
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & ~lo_even)
    return np.where(pick_hi, hi, lo).astype(np.float32)


def test_rne_matches_an_independent_reference():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(200_000).astype(np.float32),
                        (rng.standard_normal(10_000) * 1e30).astype(np.float32),
                        (rng.integers(0, 1 << 16, 10_000).astype(np.uint32) << 16 | 0x8000).view(np.float32)])  # ties
    x = x[np.isfinite(x) & (np.abs(x) < 3e38)]
    assert (round_bf16(x) == nearest_even_reference(x)).all()


def test_ties_go_to_even_and_specials_survive():
    one = np.float32(1.0)
    assert round_bf16(np.array([1 + 2 ** -8], np.float32))[0] == one                      # tie -> even
    assert round_bf16(np.array([1 + 3 * 2 ** -8], np.float32))[0] == np.float32(1 + 2 ** -6)
    assert round_bf16(np.array([1 + 2 ** -8 + 2 ** -20], np.float32))[0] == np.float32(1 + 2 ** -7)
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 3.4e38], np.float32)
    out = round_bf16(special)
    assert np.isposinf(out[0]) and np.isneginf(out[1]) and np.isnan(out[2])
    assert out[3] == 0 and np.signbit(out[4]) and np.isposinf(out[5])       # 3.4e38 rounds up past max bf16
    assert round_bf16(np.array([-1 - 2 ** -7 - 2 ** -9], np.float32), "trunc")[0] == np.float32(-1 - 2 ** -7)
    assert (from_bf16(to_bf16(np.arange(-256, 256, dtype=np.float32))) == np.arange(-256, 256)).all()
