"""The dataflow plan: fifos, links, access patterns and loop counts of the whole-array scheme."""

from zoforge.npu.design import gpt2_shapes
from zoforge.npu.plan import Tile, instruction_words, plan, topology
from zoforge.npu.validate import plan_violations
from zoforge.golden.spec import parse


def test_topology_of_the_reference_design():
    spec = parse("npu1-gpt2")
    topo = topology(spec)
    f = topo.fifos
    assert len(topo.workers) == 16 and len(f) == 4 + 4 + 4 + 4 + 16 + 4
    assert f["A_L2L1_0"].consumers == tuple(Tile(c, 2) for c in range(4))        # broadcast along a row
    assert f["B_L2L1_1"].consumers == tuple(Tile(1, r + 2) for r in range(4))    # down a column
    assert f["A_L2L1_0"].dims_to_stream.dims == [(16, 256), (8, 8), (4, 64), (8, 1)]   # r x s = 4 x 8 blocks
    assert f["B_L2L1_0"].dims_to_stream.dims == [(8, 256), (8, 8), (4, 64), (8, 1)]    # col-major: t x s
    assert f["C_L2L3_0"].dims_to_stream.dims == [(64, 128), (4, 4), (8, 16), (4, 1)]
    assert topo.l2_buffers(Tile(0, 1)) == [("A_L3L2_0", 16384), ("B_L3L2_0", 8192), ("C_L2L3_0", 65536)]


def test_plan_patterns_match_the_reference_runtime_sequence():
    # The A and B patterns of the reference runtime sequence (docs/references.md#npu-reference-design).
    spec = parse("npu1-gpt2")
    p = plan(spec, (256, 768, 3072))
    fills = [t for t in p.transfers if t.buffer == "A"]
    assert fills[0].tap.sizes == (24, 12, 64, 64) and fills[0].tap.strides == (0, 64, 768, 1)   # reference A
    b = next(t for t in p.transfers if t.buffer == "B")
    assert b.tap.sizes == (24, 12, 32, 64) and b.tap.strides == (32 * 4 * 768, 64, 768, 1)       # reference B
    c = next(t for t in p.transfers if t.buffer == "C")
    assert c.tap.sizes == (1, 24, 256, 32) and c.tap.strides == (256 * 3072, 128, 3072, 1) and c.wait
    assert set(p.rtp.values()) == {(1, 6, 24)}           # 12 k steps unrolled x2; 24 tiles per core
    assert p.kernel_calls() == 16 * 24 * 12


def test_every_gpt2_shape_plans_cleanly():
    spec = parse("npu1-gpt2")
    for shape in gpt2_shapes(256):
        p = plan(spec, shape)
        assert plan_violations(p) == [], shape
        assert instruction_words(p) < 4096
        assert sum(p.shim_bytes().values()) >= sum(d * 2 for d in shape[:2]) # something moves


def test_narrow_arrays_distribute_a_over_fewer_memtiles():
    spec = parse("gemm:cols=1,rows=4,m=32,k=32,n=32")
    topo = topology(spec)
    split = next(link for link in topo.links if link.kind == "split")
    assert split.outputs == ("A_L2L1_0", "A_L2L1_1", "A_L2L1_2", "A_L2L1_3")
    assert split.offsets == (0, 1024, 2048, 3072)
    npu2 = topology(parse("npu2-gpt2"))
    assert sorted(f.producer.col for n, f in npu2.fifos.items() if n.startswith("A_L3L2")) == [0, 2, 4, 6]
