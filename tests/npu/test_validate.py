"""One test per hardware rule (docs/references.md, NPU sections): a violating design is rejected with a
one-line message that names the rule's numbers. Rules no valid spec can break are shown on a plan or
topology edited by hand (``dataclasses.replace``), which is what the validator is for."""

import dataclasses

import pytest

from zoforge.npu.design import DesignError, GemmDesign
from zoforge.npu.pattern import Pattern
from zoforge.npu.plan import Fifo, Tile, instruction_words, plan, plans, topology
from zoforge.npu.validate import plan_violations, require_valid, shape_violations, topology_violations
from zoforge.golden.spec import SpecError, parse

REF = "npu1-gpt2"


def rejected(text: str) -> str:
    with pytest.raises(SpecError) as e:
        parse(text)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def rules(found) -> dict:
    out = {}
    for v in found:
        assert "\n" not in v.message
        out[v.rule] = out[v.rule] + " | " + v.message if v.rule in out else v.message
    return out


def with_fifo(topo, name, **changes):
    fifos = dict(topo.fifos)
    fifos[name] = dataclasses.replace(fifos[name], **changes)
    return dataclasses.replace(topo, fifos=fifos)


def with_transfer(p, index, **changes):
    ts = list(p.transfers)
    ts[index] = dataclasses.replace(ts[index], **changes)
    return dataclasses.replace(p, transfers=tuple(ts))


def first(p, buffer):
    return next(i for i, t in enumerate(p.transfers) if t.buffer == buffer)


# ---- spec-level rules: rejected when the spec is built -------------------------------------------

def test_device_columns():
    assert "cols=8 exceeds the 4 columns of device=npu1; cols must be in [1, 4]" in rejected("gemm:cols=8")
    parse("gemm:device=npu2,cols=8")


def test_dtype_pairs():
    assert "out=i32 does not go with in=bf16; out must be f32|bf16" in rejected("gemm:in=bf16,out=i32")


def test_kernel_micro_tile_per_dtype_and_device():
    assert "m=40 is not a multiple of 16, the bf16 micro-kernel tile on npu1" in rejected("gemm:m=40")
    assert "n=24 is not a multiple of 16" in rejected("gemm:n=24")
    assert "k=36 is not a multiple of 8" in rejected("gemm:k=36")
    # i16 on npu1 needs only m % 8 (4x4x4 with 2x2 expansion); bf16 on npu2 m % 8 (2x2 expansion)
    parse("gemm:in=i16,out=i32,m=24,k=36,n=24")
    parse("gemm:device=npu2,m=24,n=32")


def test_a_distribution():
    assert "rows=4 is not a multiple of cols=3" in rejected("gemm:cols=3")


def test_l1_capacity_with_double_buffering():
    msg = rejected("gemm:m=64,k=64,n=64")        # 2 x (8 + 8 + 16) KiB + stack > 64 KiB of L1
    assert "L1 of core (0,2) needs 68,876 B" in msg and "> 65,536 B" in msg and "stack 3,328" in msg
    assert "depth" in rejected("gemm:m=64,k=64,n=32,depth=4")   # triple/quad buffering overflows too
    parse("gemm:m=64,k=64,n=32,depth=2")           # the reference: 40 KiB + stack
    assert "single-buffer C (c_depth=1)" in msg


def test_single_buffered_c_fits_n64_in_l1():
    spec = parse("gemm:m=64,k=64,n=64,c_depth=1")  # 2 x 8 + 2 x 8 + 1 x 16 KiB + stack
    fifos = topology(spec).fifos
    assert {f.depth for n, f in fifos.items() if n.startswith("C_")} == {1}
    assert {f.depth for n, f in fifos.items() if not n.startswith("C_")} == {2}
    assert spec.c_fifo_depth == 1 and parse("npu1-gpt2").c_fifo_depth == 2
    assert "c_depth=5" in rejected("gemm:c_depth=5")


def test_l2_capacity():
    topo = with_fifo(topology(parse(REF)), "C_L2L3_0", depth=32)
    msg = rules(topology_violations(topo))["l2_capacity"]
    assert "memtile (0,1) needs" in msg and "C_L2L3_0 1,048,576" in msg and "> 524,288 B" in msg


def test_locks_and_dma_channels_per_tile():
    topo = topology(parse(REF))
    core = Tile(0, 2)
    fifos = dict(topo.fifos)
    for i in range(6):     # six extra inputs to one core
        fifos[f"X{i}"] = Fifo(f"X{i}", "bf16", 64, (64,), 2, Tile(0, 1), (core,))
    found = rules(topology_violations(dataclasses.replace(topo, fifos=fifos)))
    assert "core (0,2) needs 19 locks (2 x 9 fifo endpoints + 1 RTP barrier) but has 16" in found["locks"]
    assert "core (0,2) needs 8 S2MM (in) DMA channels (A_L2L1_0, B_L2L1_0, X0" in found["dma_channels"]
    assert "memtile (0,1) needs 9 MM2S (out) DMA channels" in found["dma_channels"]


def test_buffer_descriptors():
    topo = topology(parse(REF))
    for name in ("A_L2L1_0", "B_L2L1_0", "C_L1L2_0_0"):
        topo = with_fifo(topo, name, depth=6)
    assert "core (0,2) needs 18 buffer descriptors (one per fifo object: 6 + 6 + 6) but has 16" in \
        rules(topology_violations(topo))["bds"]


def test_bd_length():
    topo = with_fifo(topology(parse(REF)), "C_L1L2_0_0", elems=20000, shape=(20000,))
    assert "C_L1L2_0_0: one object is 20,000 words but a core BD moves at most 16,383 words" in \
        rules(topology_violations(topo))["bd_length"]


def test_access_pattern_dimension_count():
    topo = with_fifo(topology(parse(REF)), "A_L2L1_0",
                     dims_to_stream=Pattern((2, 8, 8, 4, 8), (2048, 256, 8, 64, 1)))
    assert "dims_to_stream of A_L2L1_0: 5 dimensions but a memtile BD has at most 4" in \
        rules(topology_violations(topo))["bd_dims"]
    p = plan(parse(REF), (256, 768, 768))
    i = first(p, "A")
    bad = with_transfer(p, i, tap=Pattern((1, 6, 12, 64, 64), (0, 0, 64, 768, 1), p.transfers[i].tap.offset))
    assert "5 dimensions but a shim BD has at most 4 (3 + repeat)" in rules(plan_violations(bad))["bd_dims"]


def test_size_limits():
    topo = with_fifo(topology(parse(REF)), "A_L2L1_0", dims_to_stream=Pattern((1, 1024, 4), (0, 4, 1)))
    found = rules(topology_violations(topo))
    assert "d1 size 1024 > 512, which DMABDOp::verify rejects" in found["bd_size"]
    assert "d1 size 1024 exceeds the memtile wrap limit 1023" in found["bd_size"]
    p = plan(parse(REF), (256, 4096, 768))
    i = first(p, "A")
    bad = with_transfer(p, i, tap=Pattern((6, 1, 64, 4096), (0, 0, 4096, 1), 0))
    assert "d0 size 4096 elements = 2048 words exceeds the shim wrap limit 1023" in rules(plan_violations(bad))["bd_size"]


def test_stride_limits():
    # natural case: B column-major with K = 50304 needs a repeat stride of n*cols*K > 2^20 words, so the
    # plan moves B one column block per transfer; the repeat written by hand is rejected
    p = plan(parse(REF), (256, 50304, 768))
    assert plan_violations(p) == [] and {t.tap.sizes[0] for t in p.transfers if t.buffer == "B"} == {1}
    i = first(p, "B")
    t = p.transfers[i].tap
    bad = with_transfer(p, i, tap=Pattern((6,) + t.sizes[1:], (128 * 50304,) + t.strides[1:], t.offset))
    assert "repeat stride 6,438,912 elements = 3,219,456 words exceeds the shim's 1,048,576" in \
        rules(plan_violations(bad))["bd_stride"]
    topo = with_fifo(topology(parse(REF)), "B_L2L1_0", dims_to_stream=Pattern((8, 8, 4, 8), (256, 0, 64, 1)))
    assert "d2 stride 0; only the shim repeat dimension may have stride 0" in rules(topology_violations(topo))["bd_stride"]


def test_four_byte_granularity():
    topo = with_fifo(topology(parse(REF)), "A_L2L1_0", dims_to_stream=Pattern((16, 8, 4, 4), (256, 8, 64, 2)))
    assert "innermost stride 2 with 2-byte elements; streams move 32-bit words, so it must be 1" in \
        rules(topology_violations(topo))["granularity"]
    p = plan(parse(REF), (256, 768, 768))
    i = first(p, "A")
    t = p.transfers[i].tap
    bad = with_transfer(p, i, tap=Pattern(t.sizes, t.strides, t.offset + 1))
    assert "offset 1 x 2 B is not 4-byte aligned" in rules(plan_violations(bad))["granularity"]


def test_bounds():
    p = plan(parse(REF), (256, 768, 768))
    i = first(p, "B")
    t = p.transfers[i].tap
    bad = with_transfer(p, i, tap=Pattern(t.sizes, t.strides, t.offset + 768 * 768))
    assert "of a buffer of 589,824 elements" in rules(plan_violations(bad))["bounds"]


def test_whole_objects():
    p = plan(parse(REF), (256, 768, 768))
    i = first(p, "A")
    bad = with_transfer(p, i, tap=Pattern((6, 12, 5, 64), (0, 64, 768, 1), 0))     # 5 rows, not 64
    msg = rules(plan_violations(bad))["whole_objects"]
    assert "moves 23,040 elements = 5.625 objects of 4,096; transfers must cover whole fifo objects" in msg


def test_shim_repeat_limit():
    p = plan(parse(REF), (256, 768, 50304))                            # the LM head: 393 column blocks (docs/references.md#npu-shim-repeat-limit)
    assert plan_violations(p) == [] and max(t.tap.sizes[0] for t in p.transfers) == 64
    i = first(p, "A")
    t = p.transfers[i].tap
    bad = with_transfer(p, i, tap=Pattern((393,) + t.sizes[1:], t.strides, t.offset))
    assert "repeat count 393 (sizes[0]) exceeds the shim BD's 64" in rules(plan_violations(bad))["shim_repeat"]


def test_shim_bds_in_flight():
    p = plan(parse(REF), (3072, 256, 768))
    bad = dataclasses.replace(p, transfers=tuple(dataclasses.replace(t, group=0) for t in p.transfers))
    assert "shim (0,0) has up to 30 BDs in flight (two task groups) but has 16" in rules(plan_violations(bad))["shim_bds"]


def test_instruction_words():
    assert shape_violations(parse(REF), (256 * 200, 128, 128)) == []      # runs as several invocations
    parts = plans(parse(REF), (256 * 200, 128, 128))
    assert len(parts) > 1 and all(instruction_words(q) <= 4096 for q in parts)
    p = parts[0]
    bad = dataclasses.replace(p, transfers=p.transfers * 3)
    assert "instruction words > the host's 4,096-word buffer" in rules(plan_violations(bad))["instructions"]


def test_data_volume_matches_loop_counts():
    p = plan(parse(REF), (256, 768, 768))
    rtp = {tile: (1, k, tiles + 1) for tile, (_, k, tiles) in p.rtp.items()}
    found = rules(plan_violations(dataclasses.replace(p, rtp=rtp)))
    assert "the runtime sequence moves 72 objects but the cores' loop counts need 84" in found["data_volume"]


def test_shapes_divisible_by_the_array_tile():
    found = shape_violations(parse(REF), (250, 768, 700))
    assert [v.message for v in found] == ["M=250 is not a multiple of 256 (m x rows = 64 x 4)",
                                          "N=700 is not a multiple of 128 (n x cols = 32 x 4)"]


def test_k_loop_unroll():
    assert "K/k = 3 is not a multiple of depth=2" in rules(shape_violations(parse(REF), (256, 192, 128)))["k_unroll"]


def test_require_valid_and_design_raise_one_line():
    p = plan(parse(REF), (256, 768, 768))
    with pytest.raises(DesignError, match=r"^plan 256x768x768: \[bounds\]"):
        i = first(p, "B")
        t = p.transfers[i].tap
        require_valid(with_transfer(p, i, tap=Pattern(t.sizes, t.strides, t.offset + 768 * 768)))
    with pytest.raises(DesignError, match="M=250 is not a multiple of 256"):
        GemmDesign(parse(REF), [(250, 768, 768)])
