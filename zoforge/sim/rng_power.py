"""Power proxy of the engine's RNG subsystem: switching activity in simulation, weighted by cells.

Method. The RNG unit (:class:`zoforge.gen.engine_rng.RngUnit`: source chain + seed storage/derivation
+ restart) runs in Amaranth's simulator through the RNG traffic of ZO steps on a vector of COUNT words:
SEED, then 4 passes (restart, COUNT words taken at one per cycle): the +1, -2, +1 and update passes.
Window *step* includes the SEED (a pool refills); *steady* is 4 more passes without one (a pool read
where the last perturbation stopped). A VCD of every signal is reduced to nets
(:mod:`zoforge.sim.activity`) and

    toggles/cycle = sum over net bits of bit flips / cycles   (raw activity; memory rows apart)
    alpha         = toggles/cycle / net bits                                (mean toggle rate)
    proxy         = alpha x (LUT + FF cells of the RNG unit after synthesis)

i.e. every LUT and FF is assumed to switch at the design's mean RTL toggle rate and to cost the same.
Limits: RTL nets, not the netlist; no glitches (zero-delay simulation); DSP and BRAM power is not in
the proxy; no static power, no clock tree; equal capacitance per cell. Treat ratios, not absolute values.

Per query. A chain that is reseeded every ``n`` queries (a pool with ``refresh=n``; every chain without
a pool gets a new seed every query, as the engine's host sends one) spends one *step* window and
``n - 1`` *steady* windows per ``n`` queries; :func:`per_query` combines the two measured windows in
that ratio (``n = 0``: the steady window alone), so the refill's cycles and toggles are included.

Members
-------
ChainOnly(source_spec)          what :class:`RngUnit` reads from an engine spec, for any source spec
rng_activity(unit, count)       the simulation: net bits, cycles and toggles per window
seed_every(source_spec)         queries per SEED in the engine's workload (0: never after the first)
per_query(activity, every)      toggles, alpha and cycles per query with that SEED rate
proxy(alpha, cells)             alpha x (LUT + FF)
"""

from __future__ import annotations

import pathlib
import tempfile

from amaranth.sim import Simulator

from ..gen.engine_rng import RngUnit
from ..golden.engine import EngineSpec
from .activity import vcd_activity

__all__ = ["ChainOnly", "rng_activity", "seed_every", "per_query", "proxy", "SEED_WORD", "PASSES"]

SEED_WORD = 0x1234567
PASSES = 4          # +1, -2, +1 and update passes of one ZO query


class ChainOnly:
    """The RNG unit's view of a bare source spec. :class:`RngUnit` reads ``rng_spec``, ``has_pool``,
    ``has_scale`` and ``seed_lfsr`` of an engine spec, whose ``rng`` must be a preset; this holder offers
    the same members, computed by the engine spec's own definitions, for any chain."""

    has_pool = EngineSpec.has_pool
    has_scale = EngineSpec.has_scale
    pool_rows = EngineSpec.pool_rows
    seed_lfsr = EngineSpec.seed_lfsr

    def __init__(self, source_spec):
        self.rng_spec = source_spec


def _simulate(unit, count: int, vcd: str) -> list[int]:
    """Run the workload; returns the window boundaries (cycles): [step start, steady start, end]."""
    dut = RngUnit(unit)
    marks = []
    cycle = [0]

    async def tick(ctx):
        await ctx.tick()
        cycle[0] += 1

    async def passes(ctx):
        for _ in range(PASSES):
            ctx.set(dut.restart, 1)
            await tick(ctx)
            ctx.set(dut.restart, 0)
            ctx.set(dut.o.ready, 1)
            taken = 0
            while taken < count:
                _, _, valid = await ctx.tick().sample(dut.o.valid)
                cycle[0] += 1
                taken += valid
            ctx.set(dut.o.ready, 0)

    async def bench(ctx):
        for _ in range(4):                       # settle after reset
            await tick(ctx)
        marks.append(cycle[0])
        ctx.set(dut.seed.payload, SEED_WORD)
        ctx.set(dut.seed.valid, 1)
        await tick(ctx)
        ctx.set(dut.seed.valid, 0)
        while ctx.get(dut.busy):
            await tick(ctx)
        await passes(ctx)
        marks.append(cycle[0])
        await passes(ctx)
        marks.append(cycle[0])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    with sim.write_vcd(vcd):
        sim.run()
    return marks


def rng_activity(unit, count: int) -> dict:
    """Simulate the RNG unit of ``unit`` (an engine spec or a :class:`ChainOnly`) through the workload
    with ``count`` words per pass. Returns ``{"bits", "cycles": [step, steady], "step": {...},
    "steady": {...}}``, each window ``{"toggles", "alpha", "memory"}`` (per cycle; ``memory``: bit flips
    of memory rows, i.e. a pool's refill writes)."""
    with tempfile.TemporaryDirectory() as tmp:
        vcd = str(pathlib.Path(tmp) / "rng.vcd")
        marks = _simulate(unit, count, vcd)
        nets, cycles = vcd_activity(vcd, marks)
    logic = [n for n in nets if not n.memory]            # memory rows are BRAM/ROM, not LUT/FF cells
    bits = sum(n.width for n in logic)
    out = {"bits": bits, "cycles": cycles}
    for w, name in enumerate(("step", "steady")):
        toggles = sum(n.toggles[w] for n in logic) / cycles[w]
        writes = sum(n.toggles[w] for n in nets if n.memory) / cycles[w]
        out[name] = {"toggles": toggles, "alpha": toggles / bits, "memory": writes}
    return out


def seed_every(source_spec) -> int:
    """Queries per SEED: a pool's ``refresh`` (0 = filled once; read where the last query stopped),
    1 for every other chain (a new perturbation needs a new seed)."""
    if ChainOnly(source_spec).has_pool:
        return int(getattr(source_spec, "refresh", 0) or 0)
    return 1


def per_query(activity: dict, every: int) -> dict:
    """``{"toggles", "alpha", "memory", "cycles"}`` per query when a SEED comes every ``every``
    queries (0: never): one step window and ``every - 1`` steady windows, weighted by their cycles."""
    (c_step, c_steady), step, steady = activity["cycles"], activity["step"], activity["steady"]
    if every == 0:
        return {**steady, "cycles": c_steady}
    cycles = c_step + (every - 1) * c_steady
    out = {k: (step[k] * c_step + steady[k] * c_steady * (every - 1)) / cycles for k in ("toggles", "memory")}
    return {**out, "alpha": out["toggles"] / activity["bits"], "cycles": cycles / every}


def proxy(alpha: float, cells: dict) -> float:
    """alpha x (LUT + FF); ``cells``: :func:`zoforge.synth.synthesize`'s ``categories``."""
    return alpha * (cells["LUT"] + cells["FF"])
