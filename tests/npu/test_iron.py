"""IRON lowering: runs where mlir-aie is importable; elsewhere the one-line error is what is tested."""

import importlib.util

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


def test_lowering_calls_the_2025_api_as_planned(monkeypatch, tmp_path):
    """Against a recording stand-in of aie.iron (tests/npu/fake_iron.py): every fifo, transfer and
    kernel call of the plan reaches the API with the planned numbers."""
    from tests.npu import fake_iron
    log = fake_iron.install(monkeypatch)
    spec = parse("gemm:cols=2,rows=2,m=32,k=32,n=32")
    p = plan(spec, (128, 128, 128))
    assert lower(p) == "module { fake }"
    fifos = {e[1] for e in log if e[0] == "fifo"}
    assert fifos == set(p.topology.fifos)
    moves = [e for e in log if e[0] in ("fill", "drain")]
    assert len(moves) == len(p.transfers)
    for e, t in zip(moves, p.transfers):
        assert (e[0], e[1], e[2], tuple(e[3]), tuple(e[4]), e[5]) == (t.op, t.fifo, t.buffer, t.tap.sizes,
                                                                      t.tap.strides, t.tap.offset)
    calls = [e for e in log if e[0] == "call"]
    # traced core functions read the RTP values the runtime sequence wrote (fake buffers keep them)
    assert sum(1 for e in calls if e[1] == "matmul_bf16_f32") == p.kernel_calls() == 64
    assert ("set_barrier", 1) in log
    info = build(GemmDesign(spec, [(128, 128, 128), (128, 256, 128)]), tmp_path, compile=False)
    assert info["mlir"] == ["aie_128x128x128.mlir", "aie_128x256x128.mlir"]
    assert (tmp_path / "design.json").is_file()
