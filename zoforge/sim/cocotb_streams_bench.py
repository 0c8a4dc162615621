"""cocotb test run inside the simulator by :mod:`zoforge.sim.cocotb_streams`: a block's input streams
fed and its output stream drained with random gaps, as :func:`zoforge.sim.stream_bench.run_streams`
does in Amaranth's simulator (valid held until the transfer, side signals set with each payload, an
optional payload transferred on one stream first, a counter read two cycles after the last word).

Parameters come from the JSON file named by ``ZOFORGE_COCOTB_PARAMS``; the payloads received and the
counter go to a JSON file. Only numpy, cocotb and the cocotb bench are imported here: this runs in the simulator's
embedded Python.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from .cocotb_bench import clock_and_reset


def _write(p, received, counter, cycles, seconds, stalled):
    with open(p["out"], "w") as f:
        json.dump({"received": received, "counter": counter, "cycles": cycles, "seconds": seconds,
                   "stalled": stalled}, f)


@cocotb.test()
async def streams(dut):
    with open(os.environ["ZOFORGE_COCOTB_PARAMS"]) as f:
        p = json.load(f)
    sources, sink, count = p["sources"], p["sink"], p["count"]
    rng = np.random.default_rng(p["rng_seed"])
    port = lambda name: getattr(dut, name)      # noqa: E731
    for name, value in p["inputs"].items():
        port(name).value = value
    for name in sources:
        port(f"{name}__valid").value = 0
    port(f"{sink}__ready").value = 0

    await clock_and_reset(dut)

    if p["preload"]:                            # inputs change on the falling edge, outputs are read settled
        stream, payload = p["preload"]
        port(f"{stream}__payload").value = payload
        port(f"{stream}__valid").value = 1
        while True:
            await ReadOnly()
            taken = int(port(f"{stream}__ready").value)
            await FallingEdge(dut.clk)
            if taken:
                break
        port(f"{stream}__valid").value = 0

    pos = dict.fromkeys(sources, 0)
    offering = dict.fromkeys(sources, False)
    received, idle, cycles, stalled = [], 0, 0, False
    t0 = time.perf_counter()
    while len(received) < count:
        idle += 1
        if idle > p["stall_cycles"]:
            stalled = True
            break
        for name, payloads in sources.items():
            if not offering[name] and pos[name] < len(payloads) and rng.random() < p["valid_prob"]:
                offering[name] = True
                port(f"{name}__payload").value = payloads[pos[name]]
            port(f"{name}__valid").value = int(offering[name])
        for signal, name, values in p["side"]:
            if pos[name] < len(values):
                port(signal).value = values[pos[name]]
        ready = int(rng.random() < p["ready_prob"])
        port(f"{sink}__ready").value = ready
        await ReadOnly()
        for name in sources:
            if offering[name] and int(port(f"{name}__ready").value):
                pos[name] += 1
                offering[name] = False
        if ready and int(port(f"{sink}__valid").value):
            received.append(port(f"{sink}__payload").value.to_unsigned())
            idle = 0
        await FallingEdge(dut.clk)
        cycles += 1
    seconds = time.perf_counter() - t0
    for name in sources:
        port(f"{name}__valid").value = 0
    for _ in range(2):
        await FallingEdge(dut.clk)
    counter = None
    if p["counter"]:
        await ReadOnly()
        counter = port(p["counter"]).value.to_unsigned()
    _write(p, received, counter, cycles, seconds, stalled)
