"""The board top: UART pins to the engine through the link, and four status LEDs.

    rx pin --> UartRx --> Link --cmd--> Engine
    tx pin <-- UartTx <-- Link <--rsp-- Engine

LEDs: 0 heartbeat (toggles once per second), 1 a frame was executed, 2 busy (executing or sending),
3 a frame was dropped; the two event LEDs stay on ~50 ms per event so a person can see them.
The platform wrapper maps ``rx``/``tx``/``leds`` to pins; nothing here depends on a board.

Members: :class:`BoardTop`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.link import LinkSpec
from .engine import Engine
from .link import Link
from .uart import UartRx, UartTx

__all__ = ["BoardTop"]


class BoardTop(wiring.Component):
    """Engine + link + UART of an engine spec and a :class:`~zoforge.golden.link.LinkSpec`.

    Members
    -------
    rx : In(1, init=1)
        UART from the host (8N1, ``link_spec.divisor`` clock cycles per bit).
    tx : Out(1, init=1)
        UART to the host.
    leds : Out(4)
        Heartbeat, executed (stretched), busy, dropped (stretched).
    """

    def __init__(self, engine_spec, link_spec: LinkSpec, clock_hz: int = 12_000_000):
        self.engine_spec, self.link_spec, self.clock_hz = engine_spec, link_spec, int(clock_hz)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(4)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UartRx(self.link_spec.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.link_spec.divisor)
        m.submodules.link = link = Link(self.link_spec)
        m.submodules.engine = engine = Engine(self.engine_spec)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx), link.engine_idle.eq(engine.idle),
                     link.engine_waiting.eq(engine.waiting), engine.abort.eq(link.engine_abort),
                     engine.cmd_left.eq(link.cmd_left)]
        wiring.connect(m, uart_rx.o, link.rx)
        wiring.connect(m, link.tx, uart_tx.i)
        wiring.connect(m, link.cmd, engine.cmd)
        wiring.connect(m, engine.rsp, link.rsp)

        # LED timing in milliseconds from one prescaler: fewer counter bits than counting cycles.
        per_ms = max(self.clock_hz // 1000, 1)
        ms_left, ms = Signal(range(per_ms)), Signal()
        m.d.comb += ms.eq(ms_left == 0)
        m.d.sync += ms_left.eq(Mux(ms, per_ms - 1, ms_left - 1))

        beat, beat_left = Signal(), Signal(range(1000))
        with m.If(ms):
            m.d.sync += beat_left.eq(Mux(beat_left == 0, 999, beat_left - 1))
            with m.If(beat_left == 0):
                m.d.sync += beat.eq(~beat)

        def stretched(pulse):
            """High for 50 ms after ``pulse`` (49 to 50 ms, by the prescaler's phase)."""
            left = Signal(range(51))
            with m.If(pulse):
                m.d.sync += left.eq(50)
            with m.Elif(ms & (left != 0)):
                m.d.sync += left.eq(left - 1)
            return left != 0

        m.d.comb += self.leds.eq(Cat(beat, stretched(link.executed), link.busy, stretched(link.dropped)))
        return m
