"""The sign source's golden model: its definition (bits the LFSR shifts out), statistics, period,
validation, and the fast host path against golden() on whole streams."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.util import assert_spec_error
from zoforge.golden import parse
from zoforge.golden.lfsr import LFSRSpec
from zoforge.golden.sign import SignSpec, perturbation, perturbation_values

PRESETS = ["sign", "sign-x2", "sign-x4", "sign-sparse", "sign-sparse-x2", "sign-sparse-x4"]
SMALL = ["sign:lanes=1,width=5,bits=3", "sign:lanes=3,sparse=4,width=20,form=fibonacci,seed=77",
         "sign:lanes=64,width=64,bits=24,seed=0xFEEDFACECAFE", "sign:lanes=7,sparse=8,width=64,bits=20",
         "sign:lanes=5,sparse=6,width=37,bits=9,form=fibonacci", "sign:lanes=16,sparse=0,width=16,bits=4"]


def fit_seed(spec, seed: int) -> int:
    """A seed that fits the spec's LFSR width."""
    return 1 + seed % ((1 << spec.width) - 1)


def serial(spec: SignSpec, count: int, seed=None, start: int = 0) -> np.ndarray:
    """The definition, one single LFSR step at a time: number e takes the (1+sparse) bits shifted out
    at steps (1+sparse)e .. (1+sparse)e+sparse, the first being the sign. ``count`` words (``start``:
    that many numbers are skipped, by a power of the one-step matrix; then ``count`` numbers)."""
    state = spec.lfsr.lane_seeds(seed)[0]
    if start:
        state = (spec.lfsr.matrix ** ((1 + spec.sparse) * start))(state)
    out_bit = 0 if spec.form == "galois" else spec.width - 1
    numbers = []
    for _ in range(count * (1 if start else spec.lanes)):
        bits = []
        for _ in range(1 + spec.sparse):
            bits.append((state >> out_bit) & 1)
            state = spec.lfsr.one_step(state)
        numbers.append(0 if not all(bits[1:]) else (-spec.code if bits[0] else spec.code))
    return np.array(numbers, dtype=np.int64) if start else np.array(numbers, dtype=np.int64).reshape(count, spec.lanes)


# ---- spec ---------------------------------------------------------------------------------------

def test_presets_parse_round_trip_and_derive():
    for text in PRESETS + SMALL:
        spec = parse(text)
        assert isinstance(spec, SignSpec) and parse(str(spec)) == spec
    assert str(parse("sign")) == str(parse("sign:lanes=8,bits=16,sparse=0,width=32,form=galois,seed=1"))
    dense, sparse = parse("sign"), parse("sign-sparse")
    assert (dense.lanes, dense.step, str(dense.out_format), dense.code) == (8, 8, "sQ1.14", 1 << 14)
    assert (sparse.step, str(sparse.out_format), sparse.code * sparse.out_format.lsb) == (24, "sQ2.13", 2.0)
    assert parse("sign-x2").lanes == 2 and parse("sign-sparse-x4").lanes == 4
    assert dense.lfsr.lanes == 1 and dense.lfsr.step == 8 and len(dense.seed_vector(5)) == 1
    assert dense.seed_vector(5) == LFSRSpec(width=32, lanes=1, seed=5).lane_seeds()
    assert dense.period == 2 ** 32 - 1 and sparse.period == (2 ** 32 - 1) // 3 and dense.latency == 0


@pytest.mark.parametrize("text, words", [
    ("sign:bits=1", ["bits=1", "[2 + sparse/2, 24]"]), ("sign:bits=25", ["bits=25"]),
    ("sign:sparse=3", ["sparse='3'", "0|2|4|6|8"]), ("sign:sparse=10", ["sparse='10'"]),
    ("sign:lanes=0", ["lanes=0"]), ("sign:lanes=65", ["lanes=65"]),
    ("sign:lanes=33", ["lanes=33", "width=32", "lanes must be <= 32"]),
    ("sign:lanes=11,sparse=2", ["lanes=11", "33", "lanes must be <= 10"]),
    ("sign:lanes=8,width=7", ["lanes=8", "width=7"]),
    ("sign:bits=3,sparse=4", ["bits=3", "sparse=4", "[4, 24]"]),
    ("sign:seed=0", ["sign:", "seed=0"]), ("sign:width=16,seed=65536", ["sign:", "seed=65536"]),
    ("sign:width=8,poly=0x1ff", ["sign:", "poly=0x1ff", "primitive"]),
    ("sign:width=1", ["width=1"]), ("sign:form=ring", ["form='ring'"]),
])
def test_bad_parameters_give_one_line_errors(text, words):
    assert_spec_error(text, words)


# ---- the definition -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", SMALL + ["sign", "sign-sparse", "sign:form=fibonacci,sparse=2,lanes=5"])
def test_golden_is_the_bits_the_lfsr_shifts_out(text):
    spec = parse(text)
    count = max(2, 3000 // spec.lanes)
    assert (spec.golden(count) == serial(spec, count)).all()
    seed = fit_seed(spec, 999)
    assert (spec.golden(count, seed=seed) == serial(spec, count, seed=seed)).all()


def test_flat_stream_does_not_depend_on_lanes():
    """Element e is made of m-sequence bits (1+k)e .. (1+k)e+k whatever the lanes: the gateware's
    lanes and the host's wider words read one sequence."""
    for sparse, lanes in ((0, (1, 3, 8, 32)), (2, (1, 4, 10))):
        streams = [parse(f"sign:lanes={n},sparse={sparse},seed=4242").golden(2400 // n).reshape(-1) for n in lanes]
        for s in streams[1:]:
            assert (s == streams[0]).all()


def test_galois_lanes_do_not_repeat_bits_at_small_lags():
    """Reading the Galois state bits directly would repeat a bit one cycle later in another lane
    (width 31, 8 bits per cycle); the shifted-out bits never repeat within the period."""
    spec = parse("sign:width=31,lanes=8")
    z = spec.golden(1 << 14)
    for lag in (1, 2, 3):
        for a in range(8):
            for b in range(8):
                assert not (z[lag:, a] == z[:-lag, b]).all()


# ---- statistics ---------------------------------------------------------------------------------

def test_a_full_period_is_balanced_and_repeats_exactly():
    # width 10: 1023 = 3 * 11 * 31; 3 bits per cycle -> period 341 cycles, one pass over the m-sequence
    # per lane-bit; the sequence has 512 ones (negatives) and 511 zeros.
    spec = parse("sign:lanes=3,width=10")
    assert spec.period == 341
    z = spec.golden(2 * 341 + 5)
    assert (z[341:682] == z[:341]).all() and (z[682:] == z[:5]).all()
    for d in (11, 31, 33, 93):                     # no shorter period
        assert not (z[d:d + 341] == z[:341]).all()
    assert (z[:341] > 0).sum() == 511 and (z[:341] < 0).sum() == 512
    dense = parse("sign:lanes=1,width=12,seed=3")
    assert dense.period == 4095 and (dense.golden(4095) < 0).sum() == 2048


@pytest.mark.parametrize("text", ["sign", "sign-sparse", "sign:lanes=8,sparse=4,width=40",
                                  "sign:lanes=4,sparse=6,width=28,form=fibonacci"])
def test_mean_variance_density_and_correlations(text):
    spec = parse(text)
    cycles = (1 << 21) // spec.lanes
    v = spec.golden(cycles, seed=2024) * spec.out_format.lsb           # real values
    n = v.size
    density = 2.0 ** -spec.sparse
    assert set(np.unique(v)) <= {-2 ** (spec.sparse / 2), 0.0, 2 ** (spec.sparse / 2)}
    # every bound below is 5 standard errors of the estimate
    assert abs(v.mean()) < 5 * np.sqrt(1 / n)
    assert abs((v != 0).mean() - density) <= 5 * np.sqrt(density * (1 - density) / n)
    var_sd = np.sqrt((2 ** spec.sparse - 1) / n)                      # sd of mean(v**2): E v**4 = 2**k
    assert abs((v * v).mean() - 1) < 5 * var_sd + 1e-12
    corr = v.T @ v / cycles                                          # lane cross-correlation
    off = corr[~np.eye(spec.lanes, dtype=bool)]
    assert np.abs(off).max() < 5 * np.sqrt(1 / cycles) * 1.5          # max over many pairs: a little slack
    lag = (v[1:] * v[:-1]).mean(axis=0)                              # lag-1, per lane
    assert np.abs(lag).max() < 5 * np.sqrt(1 / cycles) * 1.5


# ---- the host path --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", PRESETS + SMALL)
def test_host_path_equals_golden_on_whole_streams(text):
    spec = parse(text)
    for seed in (None, fit_seed(spec, 31337)):
        flat = spec.golden(20_000 // spec.lanes + 3, seed=seed).reshape(-1)
        assert (perturbation(spec, 0, len(flat), seed=seed) == flat).all()
        for start in (1, 37, 999, len(flat) // 2 + 5):
            n = len(flat) - start
            codes = perturbation(spec, start, n, seed=seed)
            assert codes.dtype == (np.int16 if spec.bits <= 16 else np.int32)
            assert (codes == flat[start:]).all(), start
            values = perturbation_values(spec, start, n, seed=seed)
            assert values.dtype == np.float32 and (values == flat[start:] * spec.out_format.lsb).all()


def test_host_path_across_pieces_and_far_starts():
    spec = parse("sign-sparse")                          # 10 numbers per host word, 2**15 words a piece
    n = 700_000
    flat = spec.golden(n // 8, seed=5).reshape(-1)
    out = np.empty(n - 3, np.int16)
    assert perturbation(spec, 3, n - 3, seed=5, out=out) is out and (out == flat[3:]).all()
    far = 10 ** 12 + 4                                  # the LFSR jumps there; checked by the definition
    head = perturbation(spec, far, 100)
    assert (head == serial(spec, 100, start=far)).all()
    assert (perturbation(spec, far + 40, 60) == head[40:]).all()
    assert (perturbation_values(spec, far, 100, dtype=np.float64) == head * spec.out_format.lsb).all()


def test_host_path_rejects_bad_arguments():
    spec = parse("sign")
    with pytest.raises(ValueError, match="start=-1"):
        perturbation(spec, -1, 5)
    with pytest.raises(ValueError, match="length=-2"):
        perturbation(spec, 0, -2)
    with pytest.raises(ValueError, match="out must be"):
        perturbation(spec, 0, 5, out=np.empty(5, np.int32))
    assert len(perturbation(spec, 10, 0)) == 0


@settings(max_examples=15, deadline=None)
@given(width=st.integers(2, 64), form=st.sampled_from(["galois", "fibonacci"]), sparse=st.sampled_from([0, 2, 4]),
       data=st.data())
def test_drawn_specs_host_path_equals_golden(width, form, sparse, data):
    lanes_max = width // (1 + sparse)
    if lanes_max < 1:
        sparse, lanes_max = 0, width
    lanes = data.draw(st.integers(1, min(lanes_max, 64)))
    bits = data.draw(st.integers(2 + sparse // 2, 24))
    spec = SignSpec(lanes=lanes, bits=bits, sparse=sparse, width=width, form=form,
                    seed=data.draw(st.integers(1, (1 << width) - 1)))
    seed = data.draw(st.integers(1, (1 << width) - 1))
    count = 3000 // lanes + 2
    flat = spec.golden(count, seed=seed).reshape(-1)
    assert (spec.golden(40, seed=seed) == serial(spec, 40, seed=seed)).all()
    start = data.draw(st.integers(0, len(flat) - 1))
    assert (perturbation(spec, start, len(flat) - start, seed=seed) == flat[start:]).all()
