"""Drive a component's byte input stream and collect its byte output stream in Amaranth's simulator,
interactively: the simulation persists between calls, so a host loop can send a command, read the
response, compute, and send the next one (what a serial link does).

Random gaps on both sides: a byte is offered in a cycle with probability ``valid_prob`` (and then held
until it transfers, as the stream rules require), and the output is ready with probability
``ready_prob``; the pattern comes from ``rng_seed``, so a run is reproducible.

Members
-------
ByteStreamSim(dut, *, sink="cmd", source="rsp", valid_prob=1.0, ready_prob=1.0, rng_seed=0, vcd=None)
  .send(data)                   queue bytes for the input stream
  .exchange(data, done, max_cycles=10**6) -> bytes
                                queue ``data``, run until ``done(received)`` is true, return (and
                                forget) the bytes received; ``done`` sees everything received so far
  .run(cycles)                  advance the clock without waiting for anything
  .cycles, .pending             clock cycles so far; input bytes not yet taken
  .close()                      finish the VCD file (if any)
StallError                      raised when ``max_cycles`` pass without ``done``
"""

from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np
from amaranth.sim import Simulator

__all__ = ["ByteStreamSim", "StallError"]


class StallError(RuntimeError):
    """The simulated component did not produce the expected bytes in time."""


class ByteStreamSim:
    def __init__(self, dut, *, sink: str = "cmd", source: str = "rsp", valid_prob: float = 1.0,
                 ready_prob: float = 1.0, rng_seed: int = 0, vcd: str | None = None):
        self.dut = dut
        self._in, self._out = getattr(dut, sink), getattr(dut, source)
        self.valid_prob, self.ready_prob = valid_prob, ready_prob
        self._rng = np.random.default_rng(rng_seed)
        self._tx: deque[int] = deque()
        self._rx = bytearray()
        self.cycles = 0
        self.sim = Simulator(dut)
        self.sim.add_clock(1e-8)
        self.sim.add_testbench(self._bench, background=True)
        self._vcd = None
        if vcd:
            self._vcd = self.sim.write_vcd(vcd)
            self._vcd.__enter__()

    async def _bench(self, ctx):
        i, o = self._in, self._out
        offering = False
        while True:
            if not offering and self._tx and self._rng.random() < self.valid_prob:
                offering = True
                ctx.set(i.payload, self._tx[0])
            ctx.set(i.valid, offering)
            ctx.set(o.ready, int(self._rng.random() < self.ready_prob))
            *_, iv, ir, ov, orr, data = await ctx.tick().sample(i.valid, i.ready, o.valid, o.ready, o.payload)
            self.cycles += 1
            if iv and ir:
                self._tx.popleft()
                offering = False
            if ov and orr:
                self._rx.append(data)

    @property
    def pending(self) -> int:
        return len(self._tx)

    def send(self, data: bytes) -> None:
        self._tx.extend(bytes(data))

    def run(self, cycles: int) -> None:
        end = self.cycles + cycles
        while self.cycles < end:
            self.sim.advance()

    def exchange(self, data: bytes, done: Callable[[bytes], bool], max_cycles: int = 10 ** 6) -> bytes:
        self.send(data)
        limit, seen = self.cycles + max_cycles, -1
        while True:
            if len(self._rx) != seen:
                seen = len(self._rx)
                if done(bytes(self._rx)):
                    break
            if self.cycles >= limit:
                raise StallError(f"bytestream: no complete response after {max_cycles} cycles "
                                 f"({len(self._rx)} bytes received, {len(self._tx)} bytes not taken)")
            self.sim.advance()
        out = bytes(self._rx)
        self._rx.clear()
        return out

    def close(self) -> None:
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
