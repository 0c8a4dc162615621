"""The gemm spec: spec strings with the `in`/`out` keys, presets, one-line errors, GPT-2 shapes."""

import pytest

from zoforge.npu.design import (DesignError, GemmDesign, GemmSpec, Shape, gpt2_matmuls, gpt2_shapes,
                                    parse_shape, parse_shapes)
from zoforge.golden.spec import SpecError, parse

# The reference design's prebuilt list (docs/references.md#npu-reference-host).
REFERENCE_SHAPES = {(256, 768, 2304), (256, 768, 768), (256, 768, 3072), (256, 3072, 768), (768, 256, 3072),
                    (3072, 256, 768), (768, 256, 768), (256, 2304, 768), (2304, 256, 768)}


def test_bare_kind_and_issue_example_parse():
    assert parse("gemm") == GemmSpec()
    spec = parse("gemm:device=npu1,cols=4,m=64,k=64,n=32,in=bf16,out=f32")
    assert (spec.dtype_in, spec.dtype_out, spec.cols, spec.rows, spec.b_layout) == ("bf16", "f32", 4, 4, "col")
    assert parse(str(spec)) == spec and "in=bf16,out=f32" in str(spec)


def test_presets_round_trip_and_keys_listed():
    for name in ("npu1-gpt2", "npu2-gpt2", "npu1-i16"):
        spec = parse(name)
        assert parse(str(spec)) == spec
    names = [n for n, _, _ in GemmSpec.parameters()]
    assert "in" in names and "out" in names and "dtype_in" not in names
    assert parse("npu1-gpt2").replace(m=32).m == 32


@pytest.mark.parametrize("text, words", [
    ("gemm:m=0", ["m=0", "out of range"]),
    ("gemm:in=f16", ["in='f16'", "bf16|i8|i16"]),
    ("gemm:out=f64", ["out='f64'"]),
    ("gemm:device=npu3", ["device='npu3'", "npu1|npu2"]),
    ("gemm:rows=5", ["rows=5", "[1, 4]"]),
    ("gemm:b_layout=diag", ["b_layout='diag'", "col|row"]),
    ("gemm:depth=9", ["depth=9"]),
    ("gemm:shapes=1", ["unknown"]),
])
def test_bad_parameters_give_one_line(text, words):
    with pytest.raises(SpecError) as e:
        parse(text)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_gpt2_shapes_are_the_reference_list():
    assert set(gpt2_shapes(256)) == REFERENCE_SHAPES and len(gpt2_shapes(256)) == 9
    with_head = gpt2_shapes(256, lm_head=True)
    assert {(256, 768, 50304), (256, 50304, 768), (50304, 256, 768)} <= set(with_head)
    mms = {m.name: m for m in gpt2_matmuls(256)}
    assert mms["fc.fwd"].shape == (256, 768, 3072) and mms["fc.fwd"].b_layout == "col"
    assert mms["fc.dweight"].a_transposed and mms["fc.dinp"].accumulate


def test_shapes_parse():
    assert parse_shape("256x768x2304") == Shape(256, 768, 2304)
    assert parse_shapes("gpt2") == gpt2_shapes(256)
    assert parse_shapes("gpt2:512") == gpt2_shapes(512)
    assert parse_shapes("64x64x64, 64x64x64,128x64x64") == (Shape(64, 64, 64), Shape(128, 64, 64))
    for bad in ("", "256x768", "axbxc", "0x64x64", "gpt2:x"):
        with pytest.raises(SpecError):
            parse_shapes(bad)


def test_design_serves_its_shapes_and_rejects_others():
    d = GemmDesign(parse("npu1-gpt2"), gpt2_shapes(256))
    assert d.serves((256, 768, 2304)) and not d.serves((256, 768, 50304))
    assert GemmDesign(parse("npu1-gpt2"), [(256, 768, 50304)]).serves((256, 768, 50304))    # the LM head
    with pytest.raises(DesignError, match=r"shape 50304x256x768 .*M=50304 is not a multiple of 256"):
        GemmDesign(parse("npu1-gpt2"), [(50304, 256, 768)])
    with pytest.raises(DesignError, match="no shapes"):
        GemmDesign(parse("npu1-gpt2"), [])
