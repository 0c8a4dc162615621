"""cocotb tests run inside the simulator by :mod:`zoforge.sim.cocotb_sessions`: a command session into
a design and every byte it answers out, written to a file for the comparison with the golden model.

``stream_session``  the engine's byte streams ``cmd`` (in) and ``rsp`` (out), with random gaps on both
                    sides (``valid_prob``, ``ready_prob``), until ``expect`` bytes arrived or the design
                    stalls for ``stall_limit`` cycles
``uart_session``    a board top's UART pins (8N1, ``divisor`` cycles per bit): one frame at a time, the
                    next one after the answer's ``expect[i]`` bytes arrived or the line was quiet for
                    ``quiet_cycles``

Parameters come from the JSON file named by ``ZOFORGE_COCOTB_PARAMS``; the bench writes progress
(bytes so far) to ``progress`` now and then. Only numpy, cocotb and the cocotb bench are imported here.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, Timer

from .cocotb_bench import clock_and_reset

PERIOD_NS = 10


def _params():
    with open(os.environ["ZOFORGE_COCOTB_PARAMS"]) as f:
        return json.load(f)


async def _reset(dut, **idle):
    for name, value in idle.items():
        getattr(dut, name).value = value
    await clock_and_reset(dut, PERIOD_NS)


def _report(p, got, cycles):
    with open(p["progress"], "w") as f:
        f.write(f"{len(got)} {cycles}")


def _finish(p, got, cycles):
    with open(p["out"], "wb") as f:
        f.write(bytes(got))
    _report(p, got, cycles)


@cocotb.test()
async def stream_session(dut):
    p = _params()
    data, expect = bytes.fromhex(p["data"]), p["expect"]
    rng = np.random.default_rng(p["rng_seed"])
    # A bare engine has no link in front: never abort a command, and every command's bytes may follow.
    await _reset(dut, cmd__valid=0, cmd__payload=0, rsp__ready=0, abort=0, cmd_left=(1 << len(dut.cmd_left)) - 1)
    got, at, offering, cycles, last = bytearray(), 0, False, 0, 0
    while len(got) < expect and cycles - last < p["stall_limit"]:
        if not offering and at < len(data) and rng.random() < p["valid_prob"]:
            offering = True
            dut.cmd__payload.value = data[at]
        dut.cmd__valid.value = int(offering)
        ready = int(rng.random() < p["ready_prob"])
        dut.rsp__ready.value = ready
        await ReadOnly()
        if offering and int(dut.cmd__ready.value):
            at, offering, last = at + 1, False, cycles
        if ready and int(dut.rsp__valid.value):
            got.append(int(dut.rsp__payload.value))
            last = cycles
        await FallingEdge(dut.clk)
        cycles += 1
        if cycles % 4096 == 0:
            _report(p, got, cycles)
    _finish(p, got, cycles)


@cocotb.test()
async def uart_session(dut):
    p = _params()
    d = p["divisor"]
    await _reset(dut, rx=1)
    await Timer(PERIOD_NS / 4, unit="ns")          # act between clock edges, as the Amaranth bench does
    got = bytearray()
    state = {"errors": 0}

    async def listen():
        while True:
            await FallingEdge(dut.tx)
            await Timer((d // 2 + 0.25) * PERIOD_NS, unit="ns")
            if int(dut.tx.value):
                continue
            byte = 0
            for k in range(8):
                await Timer(d * PERIOD_NS, unit="ns")
                byte |= int(dut.tx.value) << k
            await Timer(d * PERIOD_NS, unit="ns")
            if int(dut.tx.value):
                got.append(byte)
            else:
                state["errors"] += 1

    cocotb.start_soon(listen())
    chunk = 10 * d * PERIOD_NS                     # one character time between checks
    total = 0
    for wire, want in zip(p["frames"], p["expect"]):
        for byte in bytes.fromhex(wire):
            for k in [0] + [(byte >> j) & 1 for j in range(8)] + [1]:
                dut.rx.value = k
                await Timer(d * PERIOD_NS, unit="ns")
        total += want
        quiet, before = 0, len(got)                # wait for the answer; give up after a quiet spell
        while len(got) < total and quiet < p["quiet_cycles"]:
            await Timer(chunk, unit="ns")
            quiet = 0 if len(got) > before else quiet + 10 * d
            before = len(got)
        _report(p, got, 0)
    await Timer(20 * d * PERIOD_NS, unit="ns")      # let a stray extra byte show
    _finish(p, got, 0)

