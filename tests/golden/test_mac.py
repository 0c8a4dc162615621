"""MAC array model: the beat schedule computes exact integer matmuls; accumulator width checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoforge.golden.fixed import accumulator_bits
from zoforge.golden.mac import MacSpec, assemble, mac_stream, matmul, schedule
from zoforge.golden.spec import SpecError, parse


def random_codes(rng, fmt, shape):
    return rng.integers(fmt.min_code, fmt.max_code + 1, size=shape)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), lanes=st.integers(1, 6), row_bits=st.integers(2, 16), bcast_bits=st.integers(2, 16),
       M=st.integers(1, 13), K=st.integers(1, 40), N=st.integers(1, 5), seed=st.integers(0, 2 ** 32))
def test_schedule_computes_exact_matmul(rows, lanes, row_bits, bcast_bits, M, K, N, seed):
    spec = MacSpec(rows=rows, lanes=lanes, row_bits=row_bits, bcast_bits=bcast_bits, acc_bits=48, max_len=K)
    rng = np.random.default_rng(seed)
    W = random_codes(rng, spec.row_format, (M, K))
    X = random_codes(rng, spec.bcast_format, (K, N))
    row_beats, bcast_beats, last = schedule(spec, W, X)
    assert row_beats.shape[1:] == (rows, lanes) and bcast_beats.shape[1:] == (lanes,)
    out = spec.golden(row_beats, bcast_beats, last)
    assert out.shape == (-(-M // rows) * N, rows)
    Y = assemble(spec, out, M, N)
    assert (Y == matmul(W, X)).all()
    assert (Y == np.array([[sum(int(W[i, k]) * int(X[k, j]) for k in range(K)) for j in range(N)]
                           for i in range(M)])).all()


def test_matrix_vector_product():
    spec = parse("mac")
    W = np.arange(-30, 30).reshape(6, 10)
    x = np.arange(10) - 4
    row_beats, bcast_beats, last = schedule(spec, W, x)
    assert len(row_beats) == 2 * 3 and last.tolist() == [False, False, True] * 2
    assert assemble(spec, spec.golden(row_beats, bcast_beats, last), 6, 1)[:, 0].tolist() == (W @ x).tolist()


@pytest.mark.parametrize("row_bits, bcast_bits, max_len", [(8, 8, 4096), (16, 16, 65536), (16, 8, 3), (2, 2, 1)])
def test_worst_case_reduction_fits_the_smallest_valid_accumulator(row_bits, bcast_bits, max_len):
    need = accumulator_bits(MacSpec(row_bits=row_bits, bcast_bits=bcast_bits, acc_bits=64).bcast_format,
                            MacSpec(row_bits=row_bits, bcast_bits=bcast_bits, acc_bits=64).row_format, max_len)
    spec = MacSpec(rows=2, lanes=1, row_bits=row_bits, bcast_bits=bcast_bits, acc_bits=need, max_len=max_len)
    bmin, rmin, rmax = spec.bcast_format.min_code, spec.row_format.min_code, spec.row_format.max_code
    W = np.array([[rmin] * max_len, [rmax] * max_len])      # largest positive and most negative sums
    x = np.full(max_len, bmin)
    out = assemble(spec, spec.golden(*schedule(spec, W, x)), 2, 1)[:, 0]
    assert out.tolist() == [max_len * bmin * rmin, max_len * bmin * rmax]
    with pytest.raises(SpecError, match=f"acc_bits={need - 1} is too small for max_len={max_len}"):
        MacSpec(row_bits=row_bits, bcast_bits=bcast_bits, acc_bits=need - 1, max_len=max_len)


def test_longer_reductions_wrap_like_the_hardware():
    spec = MacSpec(rows=1, lanes=1, row_bits=8, bcast_bits=8, acc_bits=16, max_len=1)
    out = mac_stream(spec, np.full((3, 1, 1), -128), np.full((3, 1), -128), [False, False, True])
    assert out.tolist() == [[((3 * 16384 + 32768) % 65536) - 32768]]
    assert mac_stream(spec, np.ones((2, 1, 1)), np.ones((2, 1)), [False, False]).shape == (0, 1)


def test_defaults_presets_and_errors():
    for text in ["mac", "mac-int8", "mac-int16"]:
        spec = parse(text)
        assert parse(str(spec)) == spec and spec.acc_bits >= spec.needed_acc_bits
    assert parse("mac-int8").multipliers == 32
    with pytest.raises(SpecError) as info:
        parse("mac:row_bits=16,bcast_bits=16,acc_bits=32,max_len=4096")
    assert str(info.value) == ("mac: acc_bits=32 is too small for max_len=4096 products of 16-bit x 16-bit "
                               "operands; acc_bits must be >= 44")
    with pytest.raises(ValueError, match="W is 2x3 but X has 4 rows"):
        schedule(parse("mac"), np.zeros((2, 3)), np.zeros(4))
