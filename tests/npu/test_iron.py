"""IRON lowering: runs where mlir-aie is importable; elsewhere the one-line error is what is tested."""

import importlib.util

import numpy as np
import pytest

from zoforge.errors import ToolError
from zoforge.npu.design import GemmDesign, gpt2_shapes
from zoforge.npu.iron import IronMissing, build, lower
from zoforge.npu.plan import plan
from zoforge.golden.spec import parse

HAVE_IRON = importlib.util.find_spec("aie") is not None
needs_iron = pytest.mark.skipif(not HAVE_IRON, reason="mlir-aie (the `aie` package) is not importable; "
                                                      "it is not on PyPI (GitHub release wheels)")


@pytest.mark.skipif(HAVE_IRON, reason="mlir-aie is installed")
def test_missing_mlir_aie_is_one_clear_tool_error(tmp_path):
    with pytest.raises(IronMissing) as e:
        lower(plan(parse("npu1-gpt2"), (256, 768, 768)))
    msg = str(e.value)
    assert isinstance(e.value, ToolError) and "\n" not in msg
    assert "mlir-aie is not importable" in msg and "not on PyPI" in msg
    with pytest.raises(IronMissing):
        build(GemmDesign(parse("npu1-gpt2"), gpt2_shapes(256)[:1]), tmp_path)


@needs_iron
def test_lowering_emits_the_planned_program():
    p = plan(parse("npu1-gpt2"), (256, 768, 768))
    mlir = lower(p)
    for name in p.topology.fifos:
        assert name in mlir
    assert "matmul_bf16_f32" in mlir and "zero_f32" in mlir and "rtp_0_2" in mlir


@needs_iron
def test_build_writes_mlir_per_shape(tmp_path):
    info = build(GemmDesign(parse("npu1-gpt2"), gpt2_shapes(256)[:2]), tmp_path, compile=False)
    assert len(info["mlir"]) == 2 and (tmp_path / "design.json").is_file()


@pytest.mark.parametrize("buffer", ["Buffer", "GlobalBuffer"])
def test_lowering_calls_the_api_as_planned(monkeypatch, tmp_path, buffer):
    """Against the stand-in of aie.iron (tests/npu/fake_iron.py), both generations of the RTP buffer:
    every fifo, transfer and run-time parameter of the plan reaches the API with the planned numbers,
    and each core body is traced once with its loops over loaded values (not unrolled)."""
    from tests.npu import fake_iron
    log = fake_iron.install(monkeypatch, buffer=buffer)
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")
    p = plan(spec, (128, 128, 128))
    text = lower(p)
    assert text.startswith("aie.device(npu1_2col)") and "aiex.runtime_sequence" in text
    fifos = {e[1] for e in log if e[0] == "fifo"}
    assert fifos == set(p.topology.fifos)
    moves = [e for e in log if e[0] in ("fill", "drain")]
    assert len(moves) == len(p.transfers)
    for e, t in zip(moves, p.transfers):
        assert (e[0], e[1], "ABC"[e[2]], tuple(e[3]), tuple(e[4]), e[5], e[6]) == (
            t.op, t.fifo, t.buffer, t.tap.sizes, t.tap.strides, t.tap.offset, t.wait)
    cores = spec.cores
    calls = [e for e in log if e[0] == "call"]
    # one body per core: one zero and `depth` matmul calls (the static unroll) inside two loops
    assert sum(1 for e in calls if e[1] == "matmul_bf16_f32") == cores * spec.depth
    assert sum(1 for e in calls if e[1] == "zero_f32") == cores
    loops = [e[1] for e in log if e[0] == "loop"]
    assert loops == ["load(rtp_0_2[2])", "load(rtp_0_2[1])"] * 1 + loops[2:] and len(loops) == 2 * cores
    writes = {(e[1], e[2]): e[3] for e in log if e[0] == "rtp_write"}
    assert writes[("rtp_0_2", 1)] == p.rtp[next(iter(p.rtp))][1] and len(writes) == 2 * cores
    assert ("set_barrier", 1) in log
    info = build(GemmDesign(spec, [(128, 128, 128), (128, 256, 128)]), tmp_path, compile=False)
    assert info["mlir"] == ["aie_128x128x128.mlir", "aie_128x256x128.mlir"]
    assert (tmp_path / "design.json").is_file()


def test_shapes_needing_several_runs_get_one_stream_each(monkeypatch, tmp_path):
    from tests.npu import fake_iron
    fake_iron.install(monkeypatch)
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")
    info = build(GemmDesign(spec, [(64 * 64, 64, 64)]), tmp_path, compile=False)
    assert len(info["runs"]["4096x64x64"]) > 1 and info["mlir"][0] == "aie_4096x64x64_run1of2.mlir"


def test_different_device_sections_are_refused(monkeypatch, tmp_path):
    """One xclbin, one instruction stream per shape is only safe when every lowering configures the
    array the same way; a lowering whose device section differs is refused."""
    from tests.npu import fake_iron
    from zoforge.npu import iron
    fake_iron.install(monkeypatch)
    real = iron.Iron2025.lower

    def shuffled(self, p):      # what unordered fifo resolution does: another order for another shape
        text = real(self, p)
        if p.shape.K == 256:
            head, _, rest = text.partition("\n")
            lines = rest.split("\n")
            fifo = [i for i, line in enumerate(lines) if "aie.objectfifo" in line]
            lines[fifo[0]], lines[fifo[1]] = lines[fifo[1]], lines[fifo[0]]
            text = head + "\n" + "\n".join(lines)
        return text

    monkeypatch.setattr(iron.Iron2025, "lower", shuffled)
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")
    with pytest.raises(iron.IronBuildError, match="device sections differ: 128x128x128 -> .*; 128x256x128 -> "):
        build(GemmDesign(spec, [(128, 128, 128), (128, 256, 128)]), tmp_path, compile=False)


def test_device_section_drops_only_the_runtime_sequence():
    text = "aie.device(npu1) {\n  %t = aie.tile(0, 2)\n  aiex.runtime_sequence(%a: memref<4xi32>) {\n" \
           "    aiex.npu.dma_memcpy_nd {x}\n  }\n  aie.core(%t) {\n  }\n}"
    from zoforge.npu.iron import device_section
    assert device_section(text) == "aie.device(npu1) {\n  %t = aie.tile(0, 2)\n  aie.core(%t) {\n  }\n}"


def test_unsupported_api_is_one_line_naming_the_version(monkeypatch):
    from tests.npu import fake_iron
    fake_iron.install(monkeypatch, callback_runtime=True, version="1.3.0")
    with pytest.raises(IronMissing) as e:
        lower(plan(parse("gemm:cols=2,rows=2,m=32,k=32,n=32"), (128, 128, 128)))
    msg = str(e.value)
    assert "\n" not in msg and "mlir-aie 1.3.0 lacks Runtime.sequence()" in msg


def test_kernel_compile_flags_follow_the_examples():
    from zoforge.npu.iron import kernel_compile_command
    cmd = kernel_compile_command(parse("npu1-gpt2"), "/peano", "/aie/aie_kernels/aie2/mm.cc", "mm.o", "/aie/include")
    assert "-I/aie/include" in cmd and "-DVECTORIZED_ONLY" in cmd and "-DB_COL_MAJ" in cmd
    assert "--target=aie2-none-unknown-elf" in cmd and "-Dbf16_f32_ONLY" in cmd


# ---- the stand-in keeps the rules of real IRON (sources: docs/references.md, "mlir-aie API rules") ----

@pytest.fixture
def fake(monkeypatch):
    from tests.npu import fake_iron
    fake_iron.install(monkeypatch)
    return fake_iron


def test_stand_in_rejects_a_fill_from_a_buffer_not_made_by_sequence(fake):
    rt = fake.Runtime()
    fifo = fake.ObjectFifo(np.ndarray[(16,), np.dtype[np.int32]], name="f")
    with rt.sequence(np.ndarray[(64,), np.dtype[np.int32]]) as a:
        stray = fake.RuntimeData(np.ndarray[(64,), np.dtype[np.int32]])
        with pytest.raises(ValueError, match="is not a RuntimeData object generated by sequence"):
            rt.fill(fifo.prod(), stray, placement=fake.Tile(0, 0))
        rt.fill(fifo.prod(), a, placement=fake.Tile(0, 0))


def test_stand_in_rejects_two_fills_of_one_fifo_from_different_shims(fake):
    rt = fake.Runtime()
    fifo = fake.ObjectFifo(np.ndarray[(16,), np.dtype[np.int32]], name="f")
    with rt.sequence(np.ndarray[(64,), np.dtype[np.int32]]) as a:
        rt.fill(fifo.prod(), a, placement=fake.Tile(0, 0))
        rt.fill(fifo.prod(), a, placement=fake.Tile(0, 0))      # same shim: the same endpoint
        with pytest.raises(ValueError, match="Endpoint already set for ObjectFifoHandle f.prod"):
            rt.fill(fifo.prod(), a, placement=fake.Tile(1, 0))


def test_stand_in_access_patterns_follow_taplib(fake):
    TAP = fake.TensorAccessPattern
    assert TAP((64,), 0, [2, 4, 8], [32, 8, 1]).sizes == [2, 4, 8]          # 3-D: accepted
    assert TAP((64,), 0, [64], [1]).sizes == [64]                          # 1-D too
    with pytest.raises(ValueError, match="Offset too large: 64"):
        TAP((64,), 64, [1], [1])
    with pytest.raises(ValueError, match="Access pattern goes out of bounds: max_index=71, total_size=64"):
        TAP((64,), 8, [2, 32], [32, 1])
    with pytest.raises(ValueError, match="All strides must be >= 0"):
        TAP((64,), 0, [2, 2], [-1, 1])


def test_stand_in_rejects_tiles_outside_the_device(fake):
    with pytest.raises(IndexError, match="outside npu1_2col"):
        fake.Device("npu1_2col", 2).resolve_tile(fake.Tile(2, 2))
    with pytest.raises(IndexError, match="outside npu1"):
        fake.Device("npu1", 4).resolve_tile(fake.Tile(0, 6))


def test_stand_in_rejects_a_kernel_call_with_the_wrong_argument_count(fake):
    k = fake.Kernel("matmul", "mm.o", [np.ndarray[(4,), np.dtype[np.int32]]] * 3)
    with pytest.raises(ValueError, match="incorrect number of operands for callee matmul: 2 given, 3 declared"):
        k("a", "b")


def test_stand_in_maps_bf16_to_ml_dtypes(fake):
    import ml_dtypes
    from aie.iron.dtype import str_to_dtype
    assert str_to_dtype("bf16") is ml_dtypes.bfloat16


def test_lowering_gives_each_fifo_its_own_depth(monkeypatch):
    """c_depth=1 reaches IRON as single-buffered C fifos next to double-buffered A and B."""
    from tests.npu import fake_iron
    log = fake_iron.install(monkeypatch)
    p = plan(parse("gemm:cols=2,rows=2,m=32,k=32,n=64,c_depth=1"), (128, 128, 256))
    lower(p)
    depths = {e[1]: e[2] for e in log if e[0] == "fifo"}
    assert depths == {name: f.depth for name, f in p.topology.fifos.items()}
    assert {d for n, d in depths.items() if n.startswith("C_")} == {1} and depths["A_L3L2_0"] == 2


def test_lowering_emits_the_fused_perturbation(monkeypatch, tmp_path):
    """perturb=: every core body fills its pool once per run and perturbs each B object before its
    matmul; the run-time parameters carry the perturbation's words; the kernel source is the project's."""
    from tests.npu import fake_iron
    from zoforge.npu import perturb
    from zoforge.npu.iron import PERTURB_SOURCE, perturb_compile_command
    log = fake_iron.install(monkeypatch)
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32,perturb=pezo-pool-norm")
    p = plan(spec, (128, 128, 128))
    lower(p)
    calls = [e for e in log if e[0] == "call"]
    assert sum(1 for e in calls if e[1] == "pezo_pool_fill") == spec.cores
    assert sum(1 for e in calls if e[1] == "pezo_perturb_b") == spec.cores * spec.depth
    writes = {(e[1], e[2]): e[3] for e in log if e[0] == "rtp_write"}
    words = 2 + perturb.rtp_words(spec.pezo)
    assert len(writes) == words * spec.cores
    base = 3 + spec.pezo.lanes + perturb.RTP_NAMES.index("col_n0")
    assert writes[("rtp_1_2", base)] == 32 and writes[("rtp_0_2", base)] == 0
    assert writes[("rtp_0_2", 3 + spec.pezo.lanes + perturb.RTP_NAMES.index("K"))] == 128
    cmd = perturb_compile_command(spec, "/peano", PERTURB_SOURCE, "pezo_perturb.o", "/aie/include")
    assert PERTURB_SOURCE.is_file() and "-DPOOL=4096" in cmd and "-DLFSR_TAPS=0x80200003u" in cmd
    assert "-DMAC_S=8" in cmd and "-DMAC_T=4" in cmd and "-I/aie/include" in cmd
    info = build(GemmDesign(spec, [(128, 128, 128)]), tmp_path, compile=False)
    assert info["mlir"] == ["aie_128x128x128.mlir"]
