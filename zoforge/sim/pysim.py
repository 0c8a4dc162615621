"""Collect a block's output stream in Amaranth's Python simulator."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from .lanes import pack, payload_format, to_array, unpack

__all__ = ["collect", "run_testbench"]


def collect(dut, count: int, *, backpressure: float = 0.0, rng_seed: int = 0,
            reseed_at: dict[int, list[int]] | None = None, vcd: str | None = None) -> np.ndarray:
    """Run ``dut`` until ``count`` words have been transferred out of its ``o`` stream.

    ``backpressure`` is the probability that ``o.ready`` is low in a cycle (deterministic pattern).
    ``reseed_at`` maps an output index to a seed vector that is offered on ``dut.seed`` just before
    that output is taken, so tests can replay seeds mid-stream. Returns an int64 array
    (count, lanes)."""
    lanes, bits, signed = payload_format(dut.o.payload.shape())
    rng = np.random.default_rng(rng_seed)
    reseed_at = dict(reseed_at or {})
    seed_bits = payload_format(dut.seed.payload.shape())[1] if reseed_at else 0
    rows: list[list[int]] = []
    payload = dut.o.payload.as_value()

    async def bench(ctx):
        while len(rows) < count:
            if len(rows) in reseed_at:
                ctx.set(dut.seed.payload.as_value(), pack(reseed_at.pop(len(rows)), seed_bits))
                ctx.set(dut.seed.valid, 1)
                ctx.set(dut.o.ready, 0)
                while True:
                    _, _, ready = await ctx.tick().sample(dut.seed.ready)
                    if ready:
                        break
                ctx.set(dut.seed.valid, 0)
                continue
            ready = int(rng.random() >= backpressure)
            ctx.set(dut.o.ready, ready)
            _, _, valid, raw = await ctx.tick().sample(dut.o.valid, payload)
            if valid and ready:
                rows.append(unpack(raw, lanes, bits, signed))

    run_testbench(dut, bench, vcd)
    return to_array(rows, lanes)


def run_testbench(dut, bench, vcd: str | None = None) -> None:
    """Run ``bench`` against ``dut`` in the Amaranth simulator on a 100 MHz clock, writing a waveform
    to ``vcd`` when one is named."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
