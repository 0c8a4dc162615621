"""The NPU dataflow emulator: agrees with the references on every GPT-2 124M shape at B*T = 256,
integer runs are exact, and broken plans are errors (not silently computed)."""

import dataclasses

import numpy as np
import pytest

from zoforge.npu.design import device_shape, gpt2_matmuls, gpt2_shapes
from zoforge.npu.pattern import Pattern
from zoforge.npu.plan import plan, plans, topology
from zoforge.npu.emulator import EmulationError, NpuEmulator, error_bound, reference
from zoforge.golden.spec import parse

REF = parse("npu1-gpt2")


def operands(shape, seed=0, integer=None):
    rng = np.random.default_rng(seed)
    M, K, N = shape
    if integer:
        return rng.integers(-integer, integer, (M, K)), rng.integers(-integer, integer, (K, N))
    return (rng.standard_normal((M, K), dtype=np.float32),
            (rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32))


@pytest.fixture(scope="module")
def ref_array():
    return NpuEmulator(REF)     # one configured array for all shapes: cores persist across runs


@pytest.mark.parametrize("shape", gpt2_shapes(256), ids=str)
def test_every_gpt2_shape_agrees_with_fp32_of_bf16_inputs(ref_array, shape):
    a, b = operands(shape)
    c, stats = ref_array.run(a, b)
    ref = reference(REF, a, b)
    err = np.abs(c - ref)
    bound = error_bound(REF, a, b)
    assert (err <= bound).all()
    assert err.max() <= 1e-5 * max(1.0, np.abs(ref).max())       # measured: ~4e-7 relative
    assert (err / bound).max() > 1e-3          # the worst-case bound is not loose by 1000x (measured ~1e-2)
    M, K, N = shape
    assert stats.kernel_calls == (M // 64) * (N // 32) * (K // 64)
    assert stats.shim_bytes_out == M * N * 4


SMALL = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")     # blocks of 64 in M, K and N


@pytest.mark.parametrize("shape, why", [
    ((64, 64, 65 * 64), "65 column blocks: A and B fills repeat at most 64 times per transfer"),
    ((64, 32832, 128), "B's repeat stride over column blocks exceeds the BD's: one fill per column block"),
    ((128, 64, 16448), "C's stride between row blocks exceeds the BD's: one row block per task group"),
    ((64 * 64, 64, 64), "more task groups than one instruction stream holds: several runs"),
], ids=["repeat", "b_stride", "c_stride", "runs"])
def test_split_transfers_and_runs_compute_the_product(shape, why):
    parts = plans(SMALL, shape)
    assert (len(parts) > 1) == (why.endswith("several runs"))
    a, b = operands(shape, seed=3)
    c, stats = NpuEmulator(SMALL).run(a, b)
    err = np.abs(c - reference(SMALL, a, b))
    assert (err <= error_bound(SMALL, a, b)).all(), why
    M, K, N = shape
    assert stats.kernel_calls == (M // 32) * (N // 32) * (K // 32)


def gpt2_device_shapes(bt):
    """Every distinct GEMM of GPT-2 124M at B*T = bt, LM head included, as the array runs it."""
    return list(dict.fromkeys(device_shape(REF, mm.shape)[0] for mm in gpt2_matmuls(bt)))


@pytest.mark.slow
@pytest.mark.parametrize("shape", [s for bt in (256, 1024) for s in gpt2_device_shapes(bt) if s.N == 50304
                                   or s.K == 50304], ids=str)
def test_gpt2_lm_head_shapes_agree(ref_array, shape):
    """The LM head forward and backward at B*T = 256 and 1024 (the other shapes: above and the
    benchmark benchmarks/npu_gpt2_shapes.py)."""
    a, b = operands(shape, seed=2)
    c, _ = ref_array.run(a, b)
    err = np.abs(c - reference(REF, a, b))
    assert (err <= error_bound(REF, a, b)).all()


@pytest.mark.parametrize("text, shape, hi", [
    ("npu1-i16", (256, 256, 256), 2000),
    ("gemm:in=i8,out=i32,cols=2,rows=2,m=32,k=32,n=32,b_layout=col", (128, 192, 128), 128),
    ("gemm:device=npu2,cols=8,in=i16,out=i32,m=32,k=32,n=32,b_layout=col", (256, 64, 512), 3000),
    ("gemm:in=i16,out=i32,cols=1,rows=4,m=16,k=16,n=16,depth=1", (64, 48, 32), 100),
])
def test_integer_runs_equal_the_exact_matmul(text, shape, hi):
    spec = parse(text)
    a, b = operands(shape, seed=1, integer=hi)
    c, _ = NpuEmulator(spec).run(a, b)
    assert c.dtype == np.int32 and (c == reference(spec, a, b)).all()


@pytest.mark.parametrize("rounding", ["rne", "trunc"])
def test_bf16_output_rounds_after_every_call(rounding):
    spec = parse(f"gemm:out=bf16,rounding={rounding},cols=2,rows=2,m=32,k=32,n=32")
    a, b = operands((64, 256, 64), seed=2)
    c, _ = NpuEmulator(spec).run(a, b)
    ref = reference(spec, a, b)
    err = np.abs(c - ref)
    assert (err <= error_bound(spec, a, b)).all()
    assert err.max() > 0                                          # it did round
    assert (c.view(np.uint32) & 0xFFFF == 0).all()                # every value is a bf16


def test_integer_overflow_is_an_error_not_a_wrap():
    spec = parse("gemm:in=i16,out=i32,cols=1,rows=1,m=16,k=16,n=16")
    a = np.full((16, 64), 32767)
    with pytest.raises(EmulationError, match="exceeds the i32 range"):
        NpuEmulator(spec).run(a, a.T.copy()[:64, :16])


# ---- broken plans: the emulator's own checks (the validator is skipped with check=False) ----------

def small():
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")
    return spec, plan(spec, (128, 128, 128))


def run_broken(spec, p, topo=None):
    a, b = operands(p.shape)
    emu = NpuEmulator(spec, topo)
    bufs = {"A": np.zeros(p.buffers["A"][1], np.uint16), "B": np.zeros(p.buffers["B"][1], np.uint16),
            "C": np.zeros(p.buffers["C"][1], np.float32)}
    return emu.run_plan(p, bufs, check=False)


def replace_transfer(p, buffer, **changes):
    i = next(i for i, t in enumerate(p.transfers) if t.buffer == buffer)
    ts = list(p.transfers)
    ts[i] = dataclasses.replace(ts[i], **changes)
    return dataclasses.replace(p, transfers=tuple(ts))


def restride(p, buffer, strides):
    """Every transfer of ``buffer`` with other strides (B is re-sent per row block)."""
    return dataclasses.replace(p, transfers=tuple(
        dataclasses.replace(t, tap=Pattern(t.tap.sizes, strides(t.tap.strides), t.tap.offset))
        if t.buffer == buffer else t for t in p.transfers))


def test_transfer_that_is_not_whole_objects():
    spec, p = small()
    t = next(t for t in p.transfers if t.buffer == "A")
    bad = replace_transfer(p, "A", tap=Pattern(t.tap.sizes[:2] + (17, 32), t.tap.strides, t.tap.offset))
    with pytest.raises(EmulationError, match="are 4.25 objects of 1024; a transfer must cover whole fifo objects"):
        run_broken(spec, bad)


def test_wrong_shim_stride_is_caught():
    spec, p = small()
    with pytest.raises(EmulationError, match="7936 elements of B were never read"):   # rows overlap
        run_broken(spec, restride(p, "B", lambda st: st[:2] + (64, 1)))
    with pytest.raises(EmulationError, match=r"reaches elements 0\.\.\d+ of B \(16384 elements\)"):
        run_broken(spec, restride(p, "B", lambda st: st[:2] + (512, 1)))


def test_wrong_memtile_stride_is_caught():
    spec, p = small()
    f = p.topology.fifos["A_L2L1_0"]
    d = f.dims_to_stream
    fifos = dict(p.topology.fifos)
    fifos["A_L2L1_0"] = dataclasses.replace(f, dims_to_stream=Pattern(d.sizes, (d.strides[0], d.strides[1], 16, 1)))
    topo = dataclasses.replace(p.topology, fifos=fifos)
    with pytest.raises(EmulationError, match="not a permutation of its 1024-element region"):
        run_broken(spec, dataclasses.replace(p, topology=topo), topo)


def test_wrong_drain_pattern_is_caught():
    spec, p = small()
    t = next(t for t in p.transfers if t.buffer == "C")
    bad = replace_transfer(p, "C", tap=Pattern(t.tap.sizes, (t.tap.strides[0], 0, 128, 1), t.tap.offset))
    with pytest.raises(EmulationError, match="elements of C were written"):
        run_broken(spec, bad)


def test_loop_counts_that_do_not_match_the_data_deadlock():
    spec, p = small()
    more = {tile: (1, k, tiles + 1) for tile, (_, k, tiles) in p.rtp.items()}
    with pytest.raises(EmulationError, match=r"desynchronised: after the run core \(0,2\): A and B objects"):
        run_broken(spec, dataclasses.replace(p, rtp=more))
    fewer = {tile: (1, k, tiles - 1) for tile, (_, k, tiles) in p.rtp.items()}
    with pytest.raises(EmulationError, match="deadlock|desynchronised"):
        run_broken(spec, dataclasses.replace(p, rtp=fewer))


def test_finishing_a_group_under_running_transfers():
    spec, p = small()
    bad = dataclasses.replace(p, transfers=tuple(dataclasses.replace(t, wait=False) for t in p.transfers))
    with pytest.raises(EmulationError, match="finished while transfers .* still run"):
        run_broken(spec, bad)


def test_a_layout_mistake_that_is_a_permutation_gives_wrong_numbers():
    """The kernel model reads blocked L1 data on its own terms, so a plan that sends B row-major blocks
    to a column-major kernel is caught by the comparison."""
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")
    wrong = topology(parse("gemm:cols=2,rows=2,m=32,k=32,n=32,b_layout=row"))
    topo = topology(spec)
    fifos = dict(topo.fifos)
    for c in range(2):
        fifos[f"B_L2L1_{c}"] = dataclasses.replace(fifos[f"B_L2L1_{c}"],
                                                    dims_to_stream=wrong.fifos[f"B_L2L1_{c}"].dims_to_stream)
    topo = dataclasses.replace(topo, fifos=fifos)
    p = dataclasses.replace(plan(spec, (64, 64, 64)), topology=topo)
    a, b = operands((64, 64, 64), seed=3)
    from zoforge.npu.numerics import to_bf16
    bufs = {"A": to_bf16(a).ravel(), "B": to_bf16(np.ascontiguousarray(b.T)).ravel(),
            "C": np.zeros(64 * 64, np.float32)}
    NpuEmulator(spec, topo).run_plan(p, bufs, check=False)
    assert np.abs(bufs["C"].reshape(64, 64) - reference(spec, a, b)).max() > 0.1


def test_validator_runs_first_by_default():
    from zoforge.npu.design import DesignError
    spec, p = small()
    t = next(t for t in p.transfers if t.buffer == "A")
    bad = replace_transfer(p, "A", tap=Pattern(t.tap.sizes, t.tap.strides, t.tap.offset + 1))
    with pytest.raises(DesignError, match="granularity"):
        NpuEmulator(spec).run_plan(bad, {}, check=True)


# ---- c_depth: a single-buffered C frees L1 for n = 64 -------------------------------------------

@pytest.mark.parametrize("text, shape, integer", [
    ("gemm:cols=2,rows=2,m=32,k=32,n=64,c_depth=1", (128, 128, 256), None),
    ("gemm:in=i16,out=i32,cols=2,rows=2,m=32,k=32,n=64,b_layout=row,c_depth=1", (64, 192, 256), 500),
])
def test_single_buffered_c_computes_the_same_product(text, shape, integer):
    """With c_depth=1 the cores wait for their C object to drain before the next tile; the product is
    unchanged: bit for bit the double-buffered design's on the same shape (bf16), exact (i16)."""
    spec = parse(text)
    a, b = operands(shape, seed=5, integer=integer)
    c, stats = NpuEmulator(spec).run(a, b)
    both, _ = NpuEmulator(spec.replace(c_depth=2)).run(a, b)
    assert np.array_equal(c, both)
    if integer:
        assert (c == reference(spec, a, b)).all()
    else:
        assert (np.abs(c - reference(spec, a, b)) <= error_bound(spec, a, b)).all()
    M, K, N = shape
    assert stats.kernel_calls == (M // 32) * (N // 64) * (K // 32)


def test_wider_n_halves_the_a_traffic_through_the_shim():
    shape = (256, 768, 2304)
    wide = plan(parse("npu1-gpt2-n64"), shape).shim_bytes()
    ref = plan(REF, shape).shim_bytes()
    assert wide["A"] * 2 == ref["A"] and wide["B"] == ref["B"] and wide["C"] == ref["C"]
