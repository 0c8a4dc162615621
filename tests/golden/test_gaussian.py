"""Golden model of the Gaussian approximators, the ICDF tables and the quality statistics."""

import hashlib
import math
from statistics import NormalDist

import numpy as np
import pytest

from zoforge.golden import SpecError, parse
from zoforge.golden.gaussian import GaussianSpec, icdf_table, tail_quantile
from zoforge.golden.stats import ks_normal, max_abs_reachable, quality

STANDARD = NormalDist()

SAMPLES = 200_000


# ---- spec strings ---------------------------------------------------------------------------

def test_strings_parse_and_round_trip():
    spec = parse("gaussian:method=clt,n=4,lanes=8,bits=16")
    assert spec == parse("gaussian") == parse("clt4") == GaussianSpec()
    assert spec.ubits == 16 and spec.poly != 0          # auto values resolved into the spec
    for text in ("gaussian", "clt4", "clt12", "icdf16", "gaussian:method=icdf,ubits=20,width=24,sub=4"):
        spec = parse(text)
        assert parse(str(spec)) == spec
    assert parse("icdf16").uniform_bits == 32
    assert parse("gaussian:method=icdf,width=20").uniform_bits == 20


def test_out_format_and_uniform_source():
    spec = parse("gaussian:n=3,lanes=5,bits=12")
    assert (spec.out_format.bits, spec.out_format.frac, spec.out_format.signed) == (12, 8, True)
    assert spec.uniform.lanes == 15 and spec.uniform.bits == 12
    icdf = parse("gaussian:method=icdf,lanes=5")
    assert icdf.uniform.lanes == 5 and icdf.uniform.bits == 32
    assert icdf.seed_vector(7) == icdf.uniform.seed_vector(7)
    assert spec.golden(10).shape == (10, 5) and spec.golden(10).dtype == np.int64


@pytest.mark.parametrize("text, message", [
    ("gaussian:method=box", r"gaussian: method='box' is not allowed; method must be one of clt\|icdf"),
    ("gaussian:n=0", r"n=0 is out of range; n must be an integer in \[1, 16\]"),
    ("gaussian:n=17", r"n=17 is out of range; n must be an integer in \[1, 16\]"),
    ("gaussian:lanes=65", r"lanes=65 is out of range; lanes must be an integer in \[1, 64\]"),
    ("gaussian:bits=7", r"bits=7 is out of range; bits must be an integer in \[8, 24\]"),
    ("gaussian:bits=25", r"bits=25 is out of range"),
    ("gaussian:ubits=49", r"ubits=49 is out of range; ubits must be an integer in \[0, 48\]"),
    ("gaussian:sub=3", r"sub='3' is not allowed; sub must be one of 1\|2\|4\|8\|16\|32"),
    ("gaussian:width=1", r"width=1 is out of range; width must be an integer in \[2, 64\]"),
    ("gaussian:form=ring", r"form='ring' is not allowed; form must be one of galois\|fibonacci"),
    ("gaussian:seed=0", r"gaussian: seed=0 must be in \[1, 4294967295\] for width=32"),
    ("gaussian:seed=0x100000000", r"seed=4294967296 must be in \[1, 4294967295\] for width=32"),
    ("gaussian:poly=0x3", r"gaussian: poly=(3|0x3) has degree 1, not width=32"),
    ("gaussian:poly=0x100000001", r"gaussian: poly=(4294967297|0x100000001) is not primitive"),
    ("gaussian:method=icdf,n=5", r"gaussian: n=5 is only used by method=clt"),
    ("gaussian:sub=8", r"gaussian: sub=8 is only used by method=icdf"),
    ("gaussian:ubits=1", r"ubits=1 is out of range for method=clt; ubits must be 0 \(auto\) or in \[2, 32\]"),
    ("gaussian:ubits=33,width=40", r"ubits=33 is out of range for method=clt"),
    ("gaussian:method=icdf,ubits=7",
     r"ubits=7 is out of range for method=icdf; ubits must be 0 \(auto\) or in \[8, 48\]"),
    ("gaussian:method=icdf,ubits=40",
     r"gaussian: width=32 is too small for the 40 uniform bits method=icdf uses; width must be >= 40"),
    ("gaussian:bits=16,width=12", r"width=12 is too small for the 16 uniform bits method=clt uses"),
    ("gaussian:method=icdf,width=6", r"gaussian: width=6 is too small for method=icdf, which needs at least 8 "
                                     r"uniform bits; width must be >= 8"),
    ("gaussian:lanes=64,n=8", r"gaussian: n=8 with lanes=64 needs 512 uniform lanes; lanes\*n must be <= 256"),
])
def test_validation_messages(text, message):
    with pytest.raises(SpecError, match=message) as info:
        parse(text)
    assert "\n" not in str(info.value)


# ---- statistics of the golden streams -------------------------------------------------------

@pytest.mark.parametrize("text, kurtosis, ktol", [
    ("gaussian:n=1", 1.8, 0.03),          # uniform: 9/5
    ("clt4", 3 - 6 / 20, 0.03),           # sum of n uniforms: 3 - 6/(5n)
    ("clt12", 3 - 6 / 60, 0.04),
    ("icdf16", 3.0, 0.06),
])
def test_moments(text, kurtosis, ktol):
    spec = parse(text)
    z = spec.out_format.to_float(spec.golden(SAMPLES // spec.lanes))
    q = quality(z)
    # Tolerances: about 4 standard errors for 2e5 samples.
    assert abs(q["mean"]) < 0.01
    assert abs(q["variance"] - 1) < 0.015
    assert abs(q["kurtosis"] - kurtosis) < ktol
    assert q["max_abs"] <= max_abs_reachable(spec)
    assert q["ks"] < (0.02 if spec.method == "icdf" or spec.n >= 4 else 0.1)


def test_clt_never_saturates():
    # The proof in the module docstring, checked exactly over the whole parameter grid.
    for n in range(1, 17):
        for bits in (8, 12, 16, 20, 24):
            for ubits in (2, 3, 8, bits, 32):
                spec = GaussianSpec(n=n, lanes=1, bits=bits, ubits=ubits, width=32)
                k, sh = spec.clt_scale
                assert 1 << 17 <= k and (k <= 1 << 18 or sh == 1)
                assert spec.clt_code_bound <= spec.out_format.max_code
                lsb = spec.out_format.lsb
                assert spec.clt_code_bound * lsb <= math.sqrt(3 * n) * (1 + 2 ** -17) + lsb / 2


def test_clt_is_symmetric_and_scaled():
    spec = parse("gaussian:n=2,lanes=1,bits=16,ubits=16")
    big_n = 1 << 16
    bound = math.sqrt(3 * 2 * (big_n - 1) / (big_n + 1))
    assert abs(max_abs_reachable(spec) - bound) <= spec.out_format.lsb
    # Exhaustive check of the 2-term map on a coarse uniform: distribution symmetric, variance 1.
    small = parse("gaussian:n=2,lanes=1,bits=16,ubits=4,width=8")
    k, sh = small.clt_scale
    u = np.arange(-8, 8)
    t = 2 * (u[:, None] + u[None, :]) + 2
    codes = np.sort(((t * k + (1 << (sh - 1))) >> sh).ravel())
    assert np.array_equal(codes, -codes[::-1])
    assert abs(np.mean(small.out_format.to_float(codes) ** 2) - 1) < 1e-3


def test_icdf_table_is_monotone():
    for ubits, sub, bits in [(8, 1, 8), (12, 4, 16), (16, 16, 16), (16, 32, 24), (20, 2, 12)]:
        table = icdf_table(ubits, sub, bits)
        x = np.arange(1 << (ubits - 1), dtype=np.int64)        # every magnitude input
        mags = table.magnitude(x)
        assert np.all(np.diff(mags) <= 0) and mags[-1] >= 0, (ubits, sub, bits)
    table = parse("icdf16").table
    rng = np.random.default_rng(1)
    edges = np.concatenate([1 << np.arange(31), (1 << np.arange(32)) - 1])      # octave boundaries
    x = np.unique(np.concatenate([rng.integers(0, 1 << 31, 200_000), edges]))
    mags = table.magnitude(x.astype(np.int64))
    assert np.all(np.diff(mags) <= 0) and mags[-1] == 0


def test_icdf_accuracy_and_tails():
    spec = parse("icdf16")
    table, lsb = spec.table, spec.out_format.lsb
    assert table.max_error < 1.5          # documented: 1.4 LSB at sub=16
    assert icdf_table(32, 8, 16).max_error < 3.5 and icdf_table(32, 32, 16).max_error < 0.85
    rng = np.random.default_rng(2)
    x = rng.integers(0, 1 << 31, 2000)
    exact = np.array([tail_quantile((int(v) + 0.5) / 2.0 ** 32) for v in x])
    assert np.max(np.abs(table.magnitude(x) * lsb - exact)) <= 1.5 * lsb
    # Tail: x = 0 is the tail probability 2**-33, 6.34 sigma; reachable with the sign bit set.
    top = max_abs_reachable(spec)
    assert abs(top - tail_quantile(2.0 ** -33)) <= lsb / 2 and top > 6.3
    assert table.evaluate(np.array([1 << 31]))[0] * lsb == -top
    assert max_abs_reachable(parse("gaussian:method=icdf,ubits=48,width=48,bits=24")) > 7.8


def test_golden_reseed_and_start():
    spec = parse("icdf16")
    assert np.array_equal(spec.golden(50, seed=spec.seed), spec.golden(50))
    assert not np.array_equal(spec.golden(50, seed=99), spec.golden(50))


# ROM fingerprints (sha256 of c0 then d1 as little-endian int64, first 16 hex digits) of tables built
# with the earlier in-house inverse (Acklam's approximation refined by Newton steps): switching to
# statistics.NormalDist left every table with bits <= 18 bit-identical, so these must not move.
ROM_FINGERPRINTS = {
    (8, 1, 8): "13466dfe2c5fda94", (8, 32, 8): "3e46efbc170d6ed7", (12, 4, 8): "c93337e20cdde6e7",
    (16, 4, 18): "616e851a21620102", (24, 16, 12): "cccb49f253778c84", (32, 8, 16): "a7c999a08b8f2e7d",
    (32, 16, 16): "bac45a9583965c5c", (32, 32, 16): "d5c499ea7fd3245a", (40, 2, 8): "ffb66a50c4d2c012",
    (48, 16, 16): "0b8a895d834bc8c0", (48, 32, 18): "e98ffb86c07ae16f",
}


@pytest.mark.parametrize("ubits, sub, bits", sorted(ROM_FINGERPRINTS))
def test_icdf_rom_is_unchanged(ubits, sub, bits):
    t = icdf_table(ubits, sub, bits)
    digest = hashlib.sha256(t.c0.astype("<i8").tobytes() + t.d1.astype("<i8").tobytes()).hexdigest()[:16]
    assert digest == ROM_FINGERPRINTS[ubits, sub, bits]


def test_icdf16_stream_is_unchanged():
    codes = parse("icdf16").golden(20000)
    assert hashlib.sha256(np.asarray(codes, dtype="<i8").tobytes()).hexdigest()[:16] == "42f7a0c83cb9eec5"


def test_tail_quantile():
    assert tail_quantile(0.025) == pytest.approx(1.959963984540054, abs=1e-14)
    assert tail_quantile(0.5) == 0.0
    for p in (0.4, 0.1, 0.0243, 0.0244, 1e-3, 1e-8, 2.0 ** -33, 2.0 ** -49, 1e-200):
        z = tail_quantile(p)
        assert 0.5 * math.erfc(z / math.sqrt(2)) == pytest.approx(p, rel=1e-12)     # Q(z) = p, tails too
    with pytest.raises(ValueError):
        tail_quantile(0.0)


# ---- quality statistics -----------------------------------------------------------------------

def test_quality_known_inputs():
    q = quality(np.array([-1.0, 1.0, -1.0, 1.0]))
    assert q["count"] == 4 and q["mean"] == 0 and q["variance"] == 1 and q["kurtosis"] == 1
    assert q["max_abs"] == 1
    assert q["ks"] == pytest.approx(0.5 - STANDARD.cdf(-1.0), abs=1e-15)
    assert ks_normal(np.zeros(3)) == 0.5
    # Values at the quantile midpoints: F_n jumps from i/N to (i+1)/N where Phi = (i+1/2)/N.
    n = 1000
    mid = np.array([STANDARD.inv_cdf((i + 0.5) / n) for i in range(n)])
    assert ks_normal(mid) == pytest.approx(0.5 / n, rel=1e-9)
    # A real Gaussian sample: moments near (0, 1, 3), KS at the 1/sqrt(N) scale.
    q = quality(np.random.default_rng(0).standard_normal(100_000))
    assert abs(q["mean"]) < 0.015 and abs(q["variance"] - 1) < 0.02 and abs(q["kurtosis"] - 3) < 0.07
    assert q["ks"] < 0.006


def test_max_abs_reachable_needs_gaussian():
    with pytest.raises(TypeError):
        max_abs_reachable(parse("uniform16"))
