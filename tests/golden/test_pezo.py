"""The PeZO chain's golden model: spec grammar and validation, reuse index maps, scaling arithmetic,
the fast host API (perturbation, tensor_scale) and the statistics the scaling promises."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zoforge.golden import SpecError, parse
from zoforge.golden.pezo import (PezoSpec, fold_factor, perturbation, perturbation_values, pool_codes, tensor_scale,
                                 unscaled, window_sumsq)
from zoforge.golden.reuse import rotate_element
from zoforge.golden.scale import csd, fold_from_sumsq, gaussian_norm, norm_q, scale_codes, sqrt3_q, sum_squares

SMALL = [
    "pezo:reuse=pool,pool=96,lanes=8,bits=16,scale=norm",
    "pezo:reuse=pool,pool=15,lanes=3,bits=10,scale=sqrt3,sfrac=5,width=20,form=fibonacci,seed=77",
    "pezo:reuse=rotate,gens=8,hold=8,lanes=8",
    "pezo:reuse=rotate,gens=3,hold=5,lanes=7,bits=12,scale=none",
    "pezo:reuse=rotate,gens=13,hold=3,lanes=20,bits=20,sfrac=16,width=40",      # wide-lane path
    "pezo:reuse=rotate,gens=16,hold=40,lanes=16,bits=8",
    "pezo:reuse=none,lanes=5,bits=24,sfrac=16,width=24,scale=norm",
    "pezo:reuse=none,lanes=8,bits=16,scale=sqrt3,width=64",
    "pezo:reuse=pool,pool=96,lanes=8,bits=16,scale=fold,refresh=3",
    "pezo:reuse=rotate,gens=3,hold=5,lanes=7,bits=12,scale=fold",
]


# ---- spec grammar and validation ----------------------------------------------------------------

def test_bare_kind_full_string_and_presets_parse_and_round_trip():
    assert parse("pezo") == parse("pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm")
    for text in ["pezo", "pezo-pool", "pezo-rotate", "pezo-uniform", "pezo-pool-r1", "pezo-pool-fold",
                 "pezo-pool-fold-r1", *SMALL]:
        spec = parse(text)
        assert isinstance(spec, PezoSpec)
        assert parse(str(spec)) == spec


def test_derived_values():
    spec = parse("pezo:reuse=rotate,lanes=8,hold=4")
    assert spec.gens == 8 and spec.src_lanes == 8 and spec.uniform.lanes == 8
    assert spec.generated_per_output == 8 / (8 * 4)
    spec = parse("pezo:reuse=rotate,lanes=8,gens=2")
    assert spec.uniform.lanes == 2 and spec.seed_vector(5) == spec.uniform.seed_vector(5)
    spec = parse("pezo-pool-norm")
    assert spec.rows == 512 and spec.row_bits == 9 and spec.latency == 514
    assert str(spec.out_format) == "sQ1.14" and spec.q == spec.reset_scale
    assert parse("pezo:scale=none").q == 256 and parse("pezo:scale=sqrt3").q == sqrt3_q(8) == 443
    assert parse("pezo:reuse=none,scale=norm").reset_scale == sqrt3_q(8)
    assert spec.uniform is spec.uniform                       # a cached sub-spec
    assert parse("pezo:scale=fold").q == sqrt3_q(8)
    assert spec.refresh == 0 and spec.refill_cycles == 512 and spec.refresh_cycles_per_query == 0
    spec = parse("pezo:reuse=pool,pool=4096,lanes=8,scale=fold,refresh=4")
    assert spec.refresh_cycles_per_query == 128.0 and str(spec).endswith(",refresh=4")
    assert spec.manifest_info() == {"refill_cycles": 512, "refresh": 4, "refresh_cycles_per_query": 128.0}
    assert parse("pezo:reuse=rotate").refill_cycles == 0 == parse("pezo:reuse=none").refresh_cycles_per_query


BAD = [
    ("reuse", "pezo:reuse=ring"), ("pool", "pezo:pool=100"), ("pool", "pezo:pool=4,lanes=8"),
    ("pool", "pezo:pool=2097152"), ("gens", "pezo:reuse=rotate,gens=9,lanes=8"), ("gens", "pezo:gens=65"),
    ("hold", "pezo:hold=0"), ("hold", "pezo:hold=4097"), ("lanes", "pezo:lanes=0"), ("lanes", "pezo:lanes=65"),
    ("bits", "pezo:bits=3"), ("bits", "pezo:bits=25"), ("bits", "pezo:bits=20,width=16"),
    ("scale", "pezo:scale=gauss"), ("sfrac", "pezo:sfrac=3"), ("sfrac", "pezo:sfrac=17"),
    ("width", "pezo:width=1"), ("width", "pezo:width=65"), ("form", "pezo:form=ring"),
    ("seed", "pezo:seed=0"), ("seed", "pezo:seed=65536,width=16"), ("poly", "pezo:poly=0x1f,width=4,bits=4"),
    ("poly", "pezo:poly=0x13,width=5,bits=4"), ("seed", "pezo:seed=x"),
    ("refresh", "pezo:refresh=-1"), ("refresh", "pezo:refresh=1073741825"),
    ("refresh", "pezo:reuse=rotate,refresh=1"), ("refresh", "pezo:reuse=none,scale=fold,refresh=8"),
]


@pytest.mark.parametrize("name,text", BAD)
def test_invalid_parameters_are_named(name, text):
    with pytest.raises(SpecError, match=rf"^pezo: {name}="):
        parse(text)


def test_refresh_on_a_non_pool_spec_is_one_clear_line():
    with pytest.raises(SpecError) as info:
        parse("pezo:reuse=rotate,refresh=2")
    assert str(info.value) == ("pezo: refresh=2 applies to reuse=pool only (reuse=rotate reseeds every query); "
                               "refresh must be 0 here")


def test_irrelevant_parameters_are_not_checked():
    parse("pezo:reuse=rotate,lanes=3")           # pool=4096 is no multiple of 3, but unused
    parse("pezo:reuse=none,lanes=4,gens=8")


# ---- scaling arithmetic -------------------------------------------------------------------------

def test_csd_terms_sum_to_q_and_are_non_adjacent():
    for q in range(1, 1 << 12):
        terms = csd(q)
        assert sum(sign << shift for shift, sign in terms) == q
        shifts = [s for s, _ in terms]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))
    assert len(csd(sqrt3_q(8))) <= 5


def test_scale_rounds_half_up_exactly():
    rng = np.random.default_rng(1)
    for sfrac in (4, 8, 16):
        u = rng.integers(-(1 << 15), 1 << 15, 500)
        q = int(rng.integers(1, 1 << (sfrac + 1)))
        z = scale_codes(u, q, sfrac)
        want = [math.floor(Fraction(int(x) * q, 1 << (sfrac + 1)) + Fraction(1, 2)) for x in u]
        assert z.tolist() == want


@pytest.mark.parametrize("bits", range(4, 25))
def test_scaled_codes_never_overflow(bits):
    """|z| < 2: the extreme inputs and factors stay inside signed(bits), for every sfrac."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    for sfrac in range(4, 17):
        qmax = (1 << (sfrac + 1)) - 1
        u = np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi])
        for q in (1, qmax - 1, qmax):
            z = scale_codes(u, q, sfrac)
            assert z.min() >= lo and z.max() <= hi
    if bits <= 8:                                  # and exhaustively for small formats
        u = np.arange(lo, hi + 1)
        for sfrac in range(4, 8):
            for q in range(1, 1 << (sfrac + 1)):
                z = scale_codes(u, q, sfrac)
                assert z.min() >= lo and z.max() <= hi


def test_gaussian_norm_matches_known_values():
    for n, want in [(1, math.sqrt(2 / math.pi)), (16, 3.938), (256, 15.984), (4096, 63.996)]:
        assert gaussian_norm(n) == pytest.approx(want, abs=1e-3)
    assert gaussian_norm(1 << 20) == pytest.approx(1023.99976, abs=1e-5)


def test_norm_q_clamps():
    assert norm_q(0, 10, 16, 8) == 511
    assert norm_q(1 << 60, 10, 16, 8) == 1
    assert sum_squares(np.array([-(1 << 23)] * 100000)) == 100000 << 46       # exact beyond 2**63


# ---- reuse index maps against their definitions --------------------------------------------------

@pytest.mark.parametrize("text", SMALL)
def test_unscaled_stream_follows_the_reuse_definition(text):
    spec = parse(text)
    n, lanes = 3000, spec.lanes
    got = unscaled(spec, 0, n)
    src = spec.uniform.golden(-(-n // spec.src_lanes) + 10)          # independent code path
    if spec.reuse == "pool":
        pool = src.reshape(-1)[:spec.pool]
        assert (pool_codes(spec) == pool).all()
        want = [pool[i % spec.pool] for i in range(n)]
    elif spec.reuse == "rotate":
        want = [rotate_element(src, i // lanes, i % lanes, spec.gens, spec.hold) for i in range(n)]
    else:
        want = src.reshape(-1)[:n]
    assert got.tolist() == list(map(int, want))


@pytest.mark.parametrize("text", SMALL)
def test_perturbation_is_the_flattened_golden_stream(text):
    spec = parse(text)
    words = 3000 // spec.lanes
    golden = spec.golden(words)
    assert golden.dtype == np.int64 and golden.shape == (words, spec.lanes)
    fmt = spec.out_format
    assert golden.min() >= fmt.min_code and golden.max() <= fmt.max_code
    flat = golden.reshape(-1)
    rng = np.random.default_rng(7)
    for _ in range(6):
        start = int(rng.integers(0, len(flat)))
        length = int(rng.integers(0, len(flat) - start + 1))
        codes = perturbation(spec, start, length)
        assert codes.dtype == spec.code_dtype and (codes == flat[start:start + length]).all()
        assert (perturbation_values(spec, start, length) == flat[start:start + length] * fmt.lsb).all()
    assert (spec.golden(words, seed=99) == perturbation(spec, 0, words * spec.lanes, seed=99)
            .reshape(words, spec.lanes)).all()
    assert not (spec.golden(words, seed=99) == golden).all()
    out = np.empty(50, dtype=spec.code_dtype)
    assert perturbation(spec, 10, 50, out=out) is out and (out == flat[10:60]).all()


@settings(max_examples=10, deadline=None)
@given(text=st.sampled_from(SMALL), start=st.integers(0, 1 << 40), length=st.integers(0, 5000),
       split=st.integers(0, 5000))
def test_slices_far_into_the_stream_concatenate(text, start, length, split):
    """Elements far away (jump-ahead start) are consistent: two adjacent slices equal one slice."""
    spec = parse(text)
    split = min(split, length)
    whole = perturbation(spec, start, length)
    assert (np.concatenate([perturbation(spec, start, split), perturbation(spec, start + split, length - split)])
            == whole).all()


def test_long_slices_cross_piece_boundaries():
    spec = parse("pezo:reuse=rotate,gens=4,hold=2,lanes=8")
    n = 3_000_000
    whole = perturbation(spec, 5, n)
    for a in (0, 1_048_571, 2_500_003):
        assert (perturbation(spec, 5 + a, 1000) == whole[a:a + 1000]).all()


def test_runtime_q_and_errors():
    spec = parse("pezo:reuse=pool,pool=64,lanes=8")
    u = unscaled(spec, 3, 200)
    assert (perturbation(spec, 3, 200, q=300) == scale_codes(u, 300, spec.sfrac)).all()
    with pytest.raises(ValueError, match="q=1000"):
        perturbation(spec, 0, 10, q=1000)
    with pytest.raises(ValueError, match="scale=none"):
        perturbation(parse("pezo:scale=none"), 0, 10, q=300)
    with pytest.raises(ValueError, match="scale=fold"):
        perturbation(parse("pezo:scale=fold"), 0, 10, q=300)
    with pytest.raises(ValueError, match="start=-1"):
        perturbation(spec, -1, 10)
    with pytest.raises(ValueError, match="out"):
        perturbation(spec, 0, 10, out=np.empty(10, dtype=np.int32))


# ---- statistics and the pool pitfall --------------------------------------------------------------

@pytest.mark.parametrize("text", ["pezo-pool-norm", "pezo-rotate", "pezo:reuse=none,scale=norm"])
def test_tensor_scale_gives_the_expected_gaussian_norm(text):
    spec = parse(text)
    for start, length in [(0, 100_000), (12_345, 777_777), (8, 5000)]:
        q = tensor_scale(spec, start, length)
        u = unscaled(spec, start, length)
        assert q == norm_q(sum_squares(u), length, spec.bits, spec.sfrac)
        z = perturbation_values(spec, start, length, q=q, dtype=np.float64)
        # quantising s to sfrac bits costs at most half an LSB of s (~0.3% at sfrac=8)
        assert np.linalg.norm(z) == pytest.approx(gaussian_norm(length), rel=2 ** -spec.sfrac + 2e-3)
    if spec.reuse == "pool":
        assert spec.reset_scale == tensor_scale(spec, 0, spec.pool)


def test_sqrt3_scaling_has_unit_variance_and_zero_mean():
    z = perturbation_values(parse("pezo-uniform"), 0, 1_000_000, dtype=np.float64)
    assert z.var() == pytest.approx(1.0, abs=0.01) and abs(z.mean()) < 0.005
    assert np.abs(z).max() <= math.sqrt(3) + 2 ** -13


def test_pool_lengths_that_are_multiples_of_the_pool_repeat_every_step():
    spec = parse("pezo:reuse=pool,pool=64,lanes=8")
    d = 640                                          # a multiple of P: the documented pitfall
    assert all((perturbation(spec, k * d, d) == perturbation(spec, 0, d)).all() for k in range(1, 4))
    d = 600                                          # otherwise the next step starts elsewhere
    assert not (perturbation(spec, d, d) == perturbation(spec, 0, d)).all()
    golden = spec.golden(2 * spec.rows)
    assert (golden[:spec.rows] == golden[spec.rows:]).all()


def test_lanes_are_uncorrelated_after_rotation():
    z = perturbation_values(parse("pezo-rotate"), 0, 800_000, dtype=np.float64).reshape(-1, 8)
    corr = np.corrcoef(z[::8].T)                      # one transfer per held vector
    np.fill_diagonal(corr, 0)
    assert np.abs(corr).max() < 5 / np.sqrt(len(z) // 8)


# ---- scale=fold and the sums behind the per-tensor factors ---------------------------------------

@pytest.mark.parametrize("text", SMALL)
def test_fold_codes_are_the_sqrt3_codes(text):
    spec = parse(text).replace(scale="fold")
    sqrt3 = spec.replace(scale="sqrt3")
    for seed in (None, 99):
        assert (spec.golden(300, seed=seed) == sqrt3.golden(300, seed=seed)).all()


@pytest.mark.parametrize("text", ["pezo:reuse=pool,pool=96,lanes=8,bits=16", "pezo:reuse=pool,pool=40,lanes=4,bits=24",
                                  "pezo:reuse=rotate,gens=3,hold=5,lanes=7,bits=12", "pezo:reuse=none,lanes=5,bits=20"])
def test_window_sums_of_squares_are_exact(text):
    spec = parse(text)
    for seed in (None, 1234):
        for q in (None, 300, spec.q):
            for start, length in [(0, 1), (5, 17), (37, 96), (90, 1000), (8, 0), (1 << 33, 257)]:
                codes = unscaled(spec, start, length, seed) if q is None else perturbation(
                    spec.replace(scale="norm"), start, length, seed, q=q)
                assert window_sumsq(spec, start, length, seed, q) == sum(int(c) ** 2 for c in codes)


@pytest.mark.parametrize("text", ["pezo-pool-fold", "pezo:reuse=rotate,scale=fold", "pezo:reuse=none,scale=fold"])
def test_fold_factor_norm_matches_the_codes(text):
    spec = parse(text)
    for start, length in [(0, 100_000), (12_344, 777_777), (8, 5000)]:
        f = fold_factor(spec, start, length, seed=77)
        z = perturbation_values(spec, start, length, seed=77, dtype=np.float64)
        assert np.linalg.norm(f * z) == pytest.approx(gaussian_norm(length), rel=1e-9)
        # the same correction scale=norm's register makes, without its rounding to sfrac bits
        q = tensor_scale(spec.replace(scale="norm"), start, length, seed=77)
        assert f * spec.q == pytest.approx(q, abs=1.0)


def test_fold_factor_is_clamped_like_the_norm_register():
    spec = parse("pezo:reuse=pool,pool=64,lanes=8,bits=8,scale=fold")
    z, hi = perturbation(spec, 0, 64).astype(float), ((2 << spec.sfrac) - 1) / spec.q
    want = gaussian_norm(1) * 64 / np.abs(z)                # one element: E|g| / |z|, z in LSBs of 2**-6
    assert (want > hi).any() and (want < hi).any()
    for k in range(64):
        assert fold_factor(spec, k, 1) == pytest.approx(min(want[k], hi), rel=1e-12)
    assert fold_from_sumsq(0, 5, spec.q, spec.bits, spec.sfrac) == hi
    assert fold_from_sumsq(1 << 40, 5, spec.q, spec.bits, spec.sfrac) == 1 / spec.q
    with pytest.raises(ValueError, match="length=0"):
        fold_factor(spec, 0, 0)
