"""A board top in Amaranth's simulator, driven through its UART pins, interactively: the simulation
persists between calls, so host code can write a frame, read the answer, and write the next one.

The testbench is a bit-level UART on both pins (8N1, LSB first, ``divisor`` cycles per bit): it
drives ``rx`` from a queue of bytes, and decodes ``tx`` by waiting for a falling edge and sampling
each bit at its middle. It sleeps from bit to bit (``delay``, ``changed``), so almost all the time
goes into simulating the design itself.

Members
-------
BoardSim(top, divisor, *, vcd=None)
  .write(data)                          queue bytes to send on ``rx``
  .read_until(terminator, max_cycles) -> bytes
                                        run until a byte equal to ``terminator`` has arrived on ``tx``
                                        and return the bytes up to and including it (later ones stay
                                        buffered), or until ``max_cycles`` have passed and return
                                        what arrived (possibly b"")
  .run(cycles)                          advance the clock
  .cycles                               clock cycles so far
  .framing_errors                       stop bits seen low on ``tx`` (a broken top)
  .close()                              finish the VCD file (if any)
"""

from __future__ import annotations

from collections import deque

from amaranth.sim import Simulator

__all__ = ["BoardSim", "uart_bits"]

PERIOD = 1e-8            # simulated clock period, seconds (only the cycle count matters)


def uart_bits(byte: int) -> list[int]:
    """The ten bits of one 8N1 character: start, data LSB first, stop."""
    return [0] + [(byte >> k) & 1 for k in range(8)] + [1]


class BoardSim:
    def __init__(self, top, divisor: int, *, vcd: str | None = None):
        self.top, self.divisor = top, int(divisor)
        self._send: deque[int] = deque()
        self._received = bytearray()
        self.framing_errors = 0
        self.cycles = 0
        self.sim = Simulator(top)
        self.sim.add_clock(PERIOD)
        self.sim.add_testbench(self._drive, background=True)
        self.sim.add_testbench(self._listen, background=True)
        self._vcd = None
        if vcd:
            self._vcd = self.sim.write_vcd(vcd)
            self._vcd.__enter__()

    # Both benches wait with ``delay`` (one wake-up per bit, none per cycle) and act a quarter period
    # after a rising edge, so they never share a time step with a clock edge.

    async def _drive(self, ctx):
        bit_time = self.divisor * PERIOD
        await ctx.delay(PERIOD / 4)
        while True:
            if not self._send:
                await ctx.delay(bit_time)           # poll the queue once per bit time
                continue
            for bit in uart_bits(self._send.popleft()):
                ctx.set(self.top.rx, bit)
                await ctx.delay(bit_time)

    async def _listen(self, ctx):
        d, tx = self.divisor, self.top.tx
        while True:
            value, = await ctx.changed(tx)          # wakes at the clock edge that changed tx
            if value:
                continue
            await ctx.delay((d // 2 + 0.25) * PERIOD)    # the middle of the start bit
            if ctx.get(tx):
                continue                            # a glitch
            byte = 0
            for k in range(8):
                await ctx.delay(d * PERIOD)
                byte |= ctx.get(tx) << k
            await ctx.delay(d * PERIOD)
            if ctx.get(tx):
                self._received.append(byte)
            else:
                self.framing_errors += 1

    def write(self, data: bytes) -> None:
        self._send.extend(bytes(data))

    def run(self, cycles: int) -> None:
        self.cycles += int(cycles)
        self.sim.run_until(self.cycles * PERIOD)

    def read_until(self, terminator: int, max_cycles: int) -> bytes:
        limit = self.cycles + max_cycles
        chunk = 10 * self.divisor                   # one character time between checks
        while True:
            at = self._received.find(terminator)
            if at >= 0:
                out = bytes(self._received[:at + 1])
                del self._received[:at + 1]
                return out
            if self.cycles >= limit:
                out = bytes(self._received)
                self._received.clear()
                return out
            self.run(min(chunk, limit - self.cycles))

    def close(self) -> None:
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
