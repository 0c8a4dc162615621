"""Gaussian approximator gateware equals its golden model (Amaranth simulator)."""

import re

from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.util import check_pysim
from zoforge.gen.emit import to_verilog
from zoforge.golden import parse
from zoforge.golden.gaussian import SUB_CHOICES, GaussianSpec
from zoforge.sim.lanes import pack


def test_presets_equal_golden():
    for text in ("gaussian", "clt12", "icdf16"):
        check_pysim(parse(text))


def _first_valid_cycle(dut, reseed: list[int] | None = None) -> int:
    """Cycles until ``o.valid`` with ``o.ready`` high, from reset or from a seed transfer."""
    found = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        if reseed is not None:
            for _ in range(6):                     # let words fill the pipe, then reseed
                await ctx.tick()
            ctx.set(dut.seed.payload.as_value(), pack(reseed, dut.spec.width))
            ctx.set(dut.seed.valid, 1)
            await ctx.tick()
            ctx.set(dut.seed.valid, 0)
        cycles = 0
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            cycles += 1
        found.append(cycles)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return found[0]


def test_latency():
    for text in ("gaussian:lanes=1", "gaussian:method=icdf,lanes=1"):
        spec = parse(text)
        dut = spec.create()
        assert dut.latency == (2 if spec.method == "clt" else 4)
        assert _first_valid_cycle(dut) == dut.latency
        assert _first_valid_cycle(spec.create(), spec.seed_vector(5)) == dut.latency


def test_icdf_emits_verilog_with_rom():
    text, _ = to_verilog(parse("gaussian:method=icdf,lanes=1,ubits=12,width=12,sub=4,bits=10"))
    assert "module gaussian" in text and re.search(r"reg \[\d+:0\] rom0 \[\d+:0\];", text)


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 6), lanes=st.integers(1, 4), bits=st.integers(8, 24), width=st.integers(8, 40),
       form=st.sampled_from(["galois", "fibonacci"]), data=st.data())
def test_clt_drawn_specs_equal_golden(n, lanes, bits, width, form, data):
    ubits = data.draw(st.integers(2, min(width, 32)))
    seed = data.draw(st.integers(1, (1 << width) - 1))
    check_pysim(GaussianSpec(method="clt", n=n, lanes=lanes, bits=bits, ubits=ubits, width=width, form=form,
                             seed=seed), numbers=3000)


@settings(max_examples=5, deadline=None)
@given(lanes=st.integers(1, 3), bits=st.integers(8, 24), width=st.integers(8, 48),
       sub=st.sampled_from(SUB_CHOICES), form=st.sampled_from(["galois", "fibonacci"]), data=st.data())
def test_icdf_drawn_specs_equal_golden(lanes, bits, width, sub, form, data):
    ubits = data.draw(st.integers(8, width))
    seed = data.draw(st.integers(1, (1 << width) - 1))
    check_pysim(GaussianSpec(method="icdf", lanes=lanes, bits=bits, ubits=ubits, sub=sub, width=width,
                             form=form, seed=seed), numbers=3000)
