"""The board top (UART pins, link, engine) as Verilog, for simulators other than Amaranth's.

Members: :func:`board_verilog` -> (module name, Verilog text); :data:`BOARD_TOP`.
"""

from __future__ import annotations

import functools

__all__ = ["board_verilog", "BOARD_TOP"]

BOARD_TOP = "board_top"


@functools.cache
def board_verilog(engine_spec, link_spec, clock_hz: int) -> tuple[str, str]:
    """Ports ``clk``, ``rst``, ``rx``, ``tx``, ``leds`` (once per process per argument set)."""
    from ..gen.board_top import BoardTop
    from ..gen.builtin_yosys import convert_verilog
    from ..gen.emit import PortWrapper
    wrapper = PortWrapper(BoardTop(engine_spec, link_spec, clock_hz=clock_hz))
    text = convert_verilog(wrapper, name=BOARD_TOP, ports=wrapper.port_signals(), emit_src=False)
    return BOARD_TOP, text
