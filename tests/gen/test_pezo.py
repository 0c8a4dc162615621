"""The PeZO chain's gateware equals its golden model: every reuse x scale combination, drawn specs, the
``start`` replay, the ``scale`` port, a host's refresh schedule, latency and refill cycles, no
multiplier in the emitted Verilog, and fold/refresh adding no logic."""

import re

import numpy as np
import pytest
from amaranth.hdl import Fragment, Value
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from tests.util import assert_equal_streams, check_pysim
from zoforge.gen.emit import to_verilog
from zoforge.golden import parse
from zoforge.golden.pezo import PezoSpec, perturbation, tensor_scale
from zoforge.golden.queries import query_position
from zoforge.sim.lanes import pack, payload_format, unpack


@pytest.mark.parametrize("scale", ["none", "sqrt3", "norm", "fold"])
@pytest.mark.parametrize("reuse", ["pool,pool=96", "rotate,gens=3,hold=5", "none"])
def test_every_reuse_and_scale_equals_golden(reuse, scale):
    check_pysim(parse(f"pezo:reuse={reuse},lanes=4,bits=12,scale={scale}"), numbers=3000)


def test_presets_equal_golden():
    for text in ["pezo-pool", "pezo-pool-norm", "pezo-rotate", "pezo-uniform", "pezo-pool-fold-r1"]:
        check_pysim(parse(text), numbers=3000)


@settings(max_examples=4, deadline=None)
@given(reuse=st.sampled_from(["pool", "rotate", "none"]), scale=st.sampled_from(["none", "sqrt3", "norm", "fold"]),
       lanes=st.integers(1, 6), width=st.integers(8, 40), form=st.sampled_from(["galois", "fibonacci"]),
       sfrac=st.integers(4, 16), data=st.data())
def test_drawn_specs_equal_golden(reuse, scale, lanes, width, form, sfrac, data):
    spec = PezoSpec(reuse=reuse, scale=scale, lanes=lanes, width=width, form=form, sfrac=sfrac,
                    bits=data.draw(st.integers(4, min(24, width))),
                    pool=lanes * data.draw(st.integers(1, 24)), gens=data.draw(st.integers(1, lanes)),
                    hold=data.draw(st.integers(1, 6)), seed=data.draw(st.integers(1, (1 << width) - 1)))
    check_pysim(spec, numbers=3000, reseed=data.draw(st.integers(1, (1 << width) - 1)))


# ---- a bench that offers transfers on the control ports between output words ----------------------

def run(dut, count, events=None, backpressure=0.3, rng_seed=0):
    """Collect ``count`` output words; ``events`` maps an output index to [(port name, payload int)]
    offered (with o.ready low) just before that word is taken. Returns (words, first valid cycle)."""
    lanes, bits, signed = payload_format(dut.o.payload.shape())
    rng = np.random.default_rng(rng_seed)
    events = {k: list(v) for k, v in (events or {}).items()}
    rows, first_valid = [], []

    async def bench(ctx):
        cycle = 0
        while len(rows) < count:
            for name, value in events.pop(len(rows), []):
                port = getattr(dut, name)
                ctx.set(Value.cast(port.payload), value)
                ctx.set(port.valid, 1)
                ctx.set(dut.o.ready, 0)
                while True:
                    _, _, ready = await ctx.tick().sample(port.ready)
                    cycle += 1
                    if ready:
                        break
                ctx.set(port.valid, 0)
            ready = int(rng.random() >= backpressure)
            ctx.set(dut.o.ready, ready)
            _, _, valid, raw = await ctx.tick().sample(dut.o.valid, Value.cast(dut.o.payload))
            if valid and not first_valid:
                first_valid.append(cycle)
            cycle += 1
            if valid and ready:
                rows.append(unpack(raw, lanes, bits, signed))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return np.array(rows, dtype=np.int64).reshape(count, lanes), first_valid[0]


def expected(spec, start_row_words, words, **kw):
    """``words`` words of the stream starting at element ``start_row_words * lanes``."""
    return perturbation(spec, start_row_words * spec.lanes, words * spec.lanes, **kw).reshape(words, spec.lanes)


def test_start_replays_the_pool_from_any_row():
    spec = parse("pezo:reuse=pool,pool=40,lanes=4,bits=10,scale=norm")     # rows=10, start payload 4 bits
    assert spec.rows == 10 and spec.row_bits == 4
    # row 13 >= rows means 13 - 10 = 3
    events = {25: [("start", 7)], 40: [("start", 7)], 47: [("start", 13)], 60: [("start", 0)]}
    got, _ = run(spec.create(), 90, events)
    assert_equal_streams(expected(spec, 0, 25), got[:25], "before start")
    assert_equal_streams(expected(spec, 7, 15), got[25:40], "after start 7")
    assert_equal_streams(expected(spec, 7, 7), got[40:47], "replayed start 7")
    assert_equal_streams(expected(spec, 3, 13), got[47:60], "after start 13 (mod 10)")
    assert_equal_streams(expected(spec, 0, 30), got[60:], "after start 0")


def test_scale_port_applies_from_the_next_word_and_survives_reseed():
    spec = parse("pezo:reuse=pool,pool=64,lanes=8,bits=16,scale=norm")
    q1, q2 = tensor_scale(spec, 80, 400), 300
    seed_payload = pack(spec.seed_vector(4321), spec.width)
    events = {0: [("scale", 200)], 10: [("scale", q1)], 60: [("scale", q2), ("start", 3)],
              80: [("seed", seed_payload)]}
    got, _ = run(spec.create(), 110, events)
    assert_equal_streams(expected(spec, 0, 10, q=200), got[:10], "q=200 from the first word")
    assert_equal_streams(expected(spec, 10, 50, q=q1), got[10:60], "tensor scale")
    assert_equal_streams(expected(spec, 3, 20, q=q2), got[60:80], "scale then start")
    # a reseed restarts the numbers but keeps the scale register
    assert_equal_streams(expected(spec, 0, 30, q=q2, seed=4321), got[80:], "after reseed")


def test_scale_port_on_rotate_and_none():
    for text in ["pezo:reuse=rotate,gens=2,hold=3,lanes=4,scale=norm", "pezo:reuse=none,lanes=3,scale=norm"]:
        spec = parse(text)
        got, _ = run(spec.create(), 60, {17: [("scale", 5)], 40: [("scale", 511)]})
        assert_equal_streams(expected(spec, 0, 17), got[:17], text)
        assert_equal_streams(expected(spec, 17, 23, q=5), got[17:40], text)
        assert_equal_streams(expected(spec, 40, 20, q=511), got[40:], text)


@pytest.mark.parametrize("text", ["pezo:reuse=pool,pool=48,lanes=4", "pezo:reuse=rotate,lanes=4,hold=3",
                                  "pezo:reuse=none,lanes=4,scale=sqrt3"])
def test_latency_attribute_is_the_first_valid_cycle(text):
    spec = parse(text)
    dut = spec.create()
    _, first = run(dut, 5, backpressure=0.0)
    assert first == dut.latency == spec.latency


def test_ports_follow_the_spec():
    pool = parse("pezo-pool-norm").create()
    assert set(pool.signature.members) == {"o", "seed", "start", "scale"}
    assert pool.start.payload.shape().width == 9 and pool.scale.payload.shape().width == 9
    rotate = parse("pezo:reuse=rotate,gens=2,scale=sqrt3").create()
    assert set(rotate.signature.members) == {"o", "seed"}
    fold = parse("pezo-pool-fold-r1").create()
    assert set(fold.signature.members) == {"o", "seed", "start"}          # no scale port
    assert payload_format(rotate.seed.payload.shape()) == (2, 32, False)
    assert payload_format(rotate.o.payload.shape()) == (8, 16, True)
    for dut in (pool, rotate, fold):
        Fragment.get(dut, None)                   # elaborates (and marks used)


@pytest.mark.parametrize("text", ["pezo:reuse=pool,pool=64,lanes=4,scale=norm", "pezo:reuse=rotate,lanes=4,scale=sqrt3",
                                  "pezo:reuse=pool,pool=64,lanes=4,scale=fold,refresh=2"])
def test_emitted_verilog_has_no_multiplier(text):
    verilog, _ = to_verilog(parse(text), "pezo")
    assert "module pezo" in verilog
    assert not re.search(r"[\w)\]]\s*\*\s*[\w(]", verilog)


def test_fold_and_refresh_are_the_sqrt3_gateware():
    """scale=fold keeps its factor in the host's scalars and refresh is the host's schedule: neither adds
    logic, so the Verilog is the sqrt3 pool's, character for character."""
    sqrt3, _ = to_verilog(parse("pezo:reuse=pool,pool=64,lanes=4,scale=sqrt3"), "pezo")
    for text in ["pezo:reuse=pool,pool=64,lanes=4,scale=fold", "pezo:reuse=pool,pool=64,lanes=4,scale=fold,refresh=3"]:
        assert to_verilog(parse(text), "pezo")[0] == sqrt3


def test_refill_cycles_are_what_a_seed_costs_beyond_a_start():
    """Cycles from a transfer on ``seed`` (or ``start``) to the next valid word, without back-pressure:
    the difference is the pool's refill, ``spec.refill_cycles``."""
    spec = parse("pezo:reuse=pool,pool=40,lanes=4,bits=10,scale=fold,refresh=2")
    dut = spec.create()
    seed = pack(spec.seed_vector(99), spec.width)
    gaps = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for name, value in [("start", 3), ("seed", seed), ("start", 5)]:
            for _ in range(spec.latency + 3):             # let the pipeline run
                await ctx.tick()
            port = getattr(dut, name)
            ctx.set(Value.cast(port.payload), value)
            ctx.set(port.valid, 1)
            await ctx.tick()
            ctx.set(port.valid, 0)
            cycles = 0
            while not ctx.get(dut.o.valid):
                await ctx.tick()
                cycles += 1
            gaps.setdefault(name, cycles)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert gaps["seed"] - gaps["start"] == spec.refill_cycles == spec.rows == 10
    assert spec.refresh_cycles_per_query == 5.0


@pytest.mark.parametrize("text", ["pezo:reuse=pool,pool=40,lanes=4,bits=10,scale=fold,refresh=2",
                                  "pezo:reuse=pool,pool=40,lanes=4,bits=10,scale=norm,refresh=3",
                                  "pezo:reuse=pool,pool=40,lanes=4,bits=10,scale=sqrt3"])
def test_a_host_refresh_schedule_equals_golden(text):
    """Queries of 7 words placed by query_position: a seed transfer whenever the pool's seed changes,
    a start for every query (and the norm chain's scale); the whole stream equals the golden slices."""
    spec, words, queries = parse(text), 7, 7
    events, want, loaded = {}, [], None
    for j in range(queries):
        seed, start = query_position(spec, j, words * spec.lanes, run_seed=11)
        ops = []
        if seed != loaded:
            ops.append(("seed", pack(spec.seed_vector(seed if seed is not None else spec.seed), spec.width)))
            loaded = seed
        ops.append(("start", start // spec.lanes))
        q = None
        if spec.scale == "norm":
            q = tensor_scale(spec, start, words * spec.lanes, seed)
            ops.append(("scale", q))
        events[j * words] = ops
        want.append(expected(spec, start // spec.lanes, words, seed=seed, q=q))
    got, _ = run(spec.create(), words * queries, events)
    assert len({w.tobytes() for w in want}) == queries               # every query a new perturbation
    assert_equal_streams(np.concatenate(want), got, text)
