"""The board-level top: a board's pins around :class:`~zoforge.gen.board_top.BoardTop`.

:class:`PlatformTop` requests the board's UART and LEDs from its amaranth-boards platform and wires
them to the core (``rx``, ``tx``, ``leds``: heartbeat, executed, busy, dropped). The receive pin goes
to the core as it is: the core's UART receiver (:class:`zoforge.gen.uart.UartRx`) synchronises it.

LEDs per platform (missing resources are skipped, so a board without its add-on still builds):

* iCEBreaker: the main board's green LED shows the heartbeat and its red LED shows dropped frames;
  the break-off PMOD on PMOD2 (:func:`make_platform` adds its resources) shows all four on
  ``led_g`` 1..4.
* every other board (ULX3S, Arty A7): ``led`` 0..3.

The ULX3S's ``uart_tx_enable`` (pin L3, the FT231X's TXDEN) is left alone: the UART works without it,
and the FTDI chip drives that net, so the FPGA must not.

Members: :class:`PlatformTop`, :func:`make_platform`, :data:`LEDS`.
"""

from __future__ import annotations

from amaranth.build import ResourceError
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

__all__ = ["PlatformTop", "make_platform", "LEDS"]

#: Per platform class name: ((resource name, number), core LED bit) pairs; "*" is the default.
LEDS: dict[str, tuple[tuple[tuple[str, int], int], ...]] = {
    "ICEBreakerPlatform": ((("led_g", 0), 0), (("led_r", 0), 3),
                           (("led_g", 1), 0), (("led_g", 2), 1), (("led_g", 3), 2), (("led_g", 4), 3)),
    "*": tuple(((("led", i), i) for i in range(4))),
}


def make_platform(board):
    """The board's amaranth-boards platform, with its add-on resources (iCEBreaker break-off PMOD)."""
    platform = board.platform_class()()
    extra = getattr(platform, "break_off_pmod", None)
    if extra:
        platform.add_resources(extra)
    return platform


def _led_map(platform):
    for cls in type(platform).__mro__:
        if cls.__name__ in LEDS:
            return LEDS[cls.__name__]
    return LEDS["*"]


class PlatformTop(Elaboratable):
    """The board's pins around the core (``BoardTop(engine_spec, link_spec, clock_hz=board.clock_hz)``
    unless ``core`` gives another component with the same ``rx``/``tx``/``leds`` ports).

    After elaboration, :attr:`leds` lists the LED resources that were connected, as
    ``(resource name, number, core LED bit)``.
    """

    def __init__(self, board, engine_spec, link_spec, *, core=None):
        self.board = board
        self.engine_spec = engine_spec
        self.link_spec = link_spec
        self.core = core
        self.leds: list[tuple[str, int, int]] = []

    def _make_core(self):
        if self.core is not None:
            return self.core
        from ..gen.board_top import BoardTop
        return BoardTop(self.engine_spec, self.link_spec, clock_hz=self.board.clock_hz)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._make_core()

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]

        self.leds = []
        for (name, number), bit in _led_map(platform):
            if bit >= len(core.leds):
                continue
            try:
                port = platform.request(name, number, dir="-")
            except ResourceError:
                continue
            m.submodules[f"{name}_{number}"] = led = io.Buffer("o", port)
            m.d.comb += led.o.eq(core.leds[bit])
            self.leds.append((name, number, bit))
        return m
