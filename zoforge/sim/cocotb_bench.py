"""cocotb test module run inside the simulator by :mod:`zoforge.sim.cocotb_runner`.

It mirrors :func:`zoforge.sim.pysim.collect` on the emitted Verilog: same reset state, same
deterministic ``o__ready`` pattern (``numpy.random.default_rng(rng_seed)``, one draw per offered
cycle), same reseed handshake, and it keeps the payload of every transfer on ``o``. Parameters come
from the JSON file named by ``ZOFORGE_COCOTB_PARAMS``; the collected words go to an ``.npy`` file.

Only numpy and cocotb are imported here: this runs in the simulator's embedded Python.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

PARAMS_ENV = "ZOFORGE_COCOTB_PARAMS"
_DRAWS = 4096    # ready draws fetched at once; the same stream as one rng.random() per cycle


async def clock_and_reset(dut, period_ns: float = 10) -> None:
    """Start the clock, hold reset for two cycles, and return on the falling edge after it is released
    (the benches change inputs on falling edges)."""
    Clock(dut.clk, period_ns, unit="ns").start()
    dut.rst.value = 1
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


def unpack_rows(raw: list[int], lanes: int, bits: int, signed: bool) -> np.ndarray:
    """Split packed payloads (lane 0 in the LSBs) into an int64 array (rows, lanes).

    Unsigned 64-bit lanes wrap to int64 the way the golden models ``view`` them."""
    mask = (1 << bits) - 1
    out = np.empty((len(raw), lanes), dtype=np.int64)
    for lane in range(lanes):
        shift = lane * bits
        vals = [(r >> shift) & mask for r in raw]
        if signed or bits == 64:
            top = 1 << (bits - 1)
            vals = [v - (1 << bits) if v & top else v for v in vals]
        out[:, lane] = vals
    return out


class _Ready:
    """The back-pressure pattern: ready is low with probability ``p`` in each offered cycle."""

    def __init__(self, p: float, seed: int):
        self.p, self.rng, self.buf, self.i = p, np.random.default_rng(seed), np.empty(0), 0

    def next(self) -> int:
        if self.p <= 0.0:
            return 1
        if self.i == len(self.buf):
            self.buf, self.i = self.rng.random(_DRAWS), 0
        self.i += 1
        return int(self.buf[self.i - 1] >= self.p)


@cocotb.test()
async def collect(dut):
    with open(os.environ[PARAMS_ENV]) as f:
        p = json.load(f)
    count, lanes, bits, signed = p["count"], p["lanes"], p["bits"], p["signed"]
    reseed_at = {int(k): v for k, v in p.get("reseed_at", {}).items()}
    ready_pat = _Ready(p["backpressure"], p["rng_seed"])

    # Every other input (other streams' valid/payload, ready of other outputs) gets a fixed value.
    for name, value in p.get("inputs", {}).items():
        getattr(dut, name).value = value
    o_ready, o_valid, o_payload = dut.o__ready, dut.o__valid, dut.o__payload
    seed_valid, seed_payload, seed_ready = dut.seed__valid, dut.seed__payload, dut.seed__ready
    seed_valid.value = 0
    o_ready.value = 0

    await clock_and_reset(dut)

    # Inputs change on the falling edge; outputs are read once settled (ReadOnly), which is what
    # the rising edge will see: the same sample point as ctx.tick().sample() in pysim.
    raw: list[int] = []
    cycles = last = 0
    stall_limit = p.get("stall_limit", 100_000)
    t0 = time.perf_counter()
    while len(raw) < count:
        if cycles - last > stall_limit:
            raise RuntimeError(f"no transfer on o for {stall_limit} cycles after {len(raw)} words")
        if len(raw) in reseed_at:
            seed_payload.value = reseed_at.pop(len(raw))
            seed_valid.value = 1
            o_ready.value = 0
            while True:
                await ReadOnly()
                taken = int(seed_ready.value)
                await FallingEdge(dut.clk)
                cycles += 1
                if taken:
                    break
            seed_valid.value = 0
            continue
        ready = ready_pat.next()
        o_ready.value = ready
        await ReadOnly()
        if ready and int(o_valid.value):
            raw.append(o_payload.value.to_unsigned())
            last = cycles
        await FallingEdge(dut.clk)
        cycles += 1
    seconds = time.perf_counter() - t0

    np.save(p["out"], unpack_rows(raw, lanes, bits, signed))
    with open(p["stats"], "w") as f:
        json.dump({"cycles": cycles, "seconds": seconds}, f)
