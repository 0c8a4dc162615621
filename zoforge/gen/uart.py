"""UART transmitter and receiver: 8N1, least significant bit first, ``divisor`` clock cycles per bit.

A frame on the line is a start bit (0), eight data bits and a stop bit (1); the idle line is 1.
The receiver synchronises the pin through two flip-flops, waits for a falling edge, samples the
start bit again at its middle (a shorter low pulse is a glitch and ignored), then every bit at its
middle, ``divisor`` cycles apart. It is ready for the next start edge from the middle of the stop
bit on, so a sender's clock may run a little faster than ours.

Members: :class:`UartTx`, :class:`UartRx`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartTx", "UartRx", "MIN_DIVISOR"]

MIN_DIVISOR = 4       # the receiver needs a few cycles per bit to find the middle of the start bit


def _check(divisor) -> int:
    if not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"uart: divisor is {divisor!r}; it must be an integer >= {MIN_DIVISOR}")
    return divisor


class UartTx(wiring.Component):
    """Sends each byte of ``i`` on ``tx``; back to back bytes take exactly ``10 * divisor`` cycles.

    Members
    -------
    i : In(stream.Signature(8))
        Bytes to send; ready while the line is idle and in the last cycle of a stop bit.
    tx : Out(1, init=1)
        The line. The start bit begins in the cycle after a byte is taken.
    """

    def __init__(self, divisor: int):
        self.divisor = _check(divisor)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        busy = Signal()
        bits = Signal(range(10))             # bits still to shift out after the current one
        shreg = Signal(9)                    # data bits then the stop bit
        timer = Signal(range(d))             # cycles left of the current bit, minus one
        bit_end = timer == 0
        done = busy & bit_end & (bits == 0)  # last cycle of the stop bit
        m.d.comb += self.i.ready.eq(~busy | done)

        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [self.tx.eq(0), shreg.eq(Cat(self.i.payload, 1)), bits.eq(9), timer.eq(d - 1), busy.eq(1)]
        with m.Elif(done):
            m.d.sync += busy.eq(0)           # tx stays 1: the stop bit is also the idle level
        with m.Elif(busy):
            with m.If(bit_end):
                m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(shreg >> 1), bits.eq(bits - 1), timer.eq(d - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(wiring.Component):
    """Receives bytes from ``rx`` onto ``o``.

    Members
    -------
    rx : In(1)
        The line (asynchronous; synchronised here, reset value 1 = idle).
    o : Out(stream.Signature(8))
        Received bytes. A byte is offered from the middle of its stop bit until taken.
    error : Out(1)
        One-cycle pulse: a stop bit was 0 (framing error; the byte is discarded and the receiver
        waits for the line to go idle) or a byte completed while the previous one was not taken
        (overrun; the new byte is discarded).
    """

    def __init__(self, divisor: int):
        self.divisor = _check(divisor)
        super().__init__({"rx": In(1), "o": Out(stream.Signature(8)), "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(d))
        bits = Signal(range(8))
        shreg = Signal(8)
        sample = timer == 0

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += self.error.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(d // 2 - 1)        # to the middle of the start bit
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.sync += [timer.eq(d - 1), bits.eq(7)]
                    m.next = "DATA"
                    with m.If(line):
                        m.next = "IDLE"                     # a glitch, not a start bit
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), bits.eq(bits - 1), timer.eq(d - 1)]
                    with m.If(bits == 0):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    with m.If(~line):
                        m.d.sync += self.error.eq(1)
                        m.next = "BREAK"
                    with m.Else():
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.sync += self.error.eq(1)    # overrun: keep the byte on offer
                        with m.Else():
                            m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                        m.next = "IDLE"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m
