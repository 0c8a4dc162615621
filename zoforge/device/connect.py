"""Where the engine runs, named by one string (``zoforge train --device``):

``golden``          the golden engine model in this process (no link)
``sim:BOARD``       BOARD's board top (UART, link, engine) in Amaranth's simulator, through the host
                    link driver; the UART divisor is :data:`SIM_DIVISOR` unless ``link`` is given
``sim-verilator:BOARD``  the same board top compiled by Verilator (a cached C++ build), at the board's
                    real UART divisor: about a hundred times faster
``BOARD:PORT``      a flashed board on a serial port, e.g. ``icebreaker:/dev/ttyUSB1``

Every device is checked on connect: its spec hash must be the host's (no silent mismatch).

Members: :func:`open_device` -> :class:`Device`, :class:`DeviceError`, :data:`SIM_DIVISOR`; its parts
:func:`parse_device`, :func:`link_latency`, :func:`sim_transport`, :func:`connect` (for tests and
benchmarks that put something between the link and the board).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..golden.spec import SpecError, parse
from .client import EngineClient

__all__ = ["Device", "DeviceError", "open_device", "parse_device", "link_latency", "sim_transport",
           "verilator_transport", "connect",
           "SIM_DIVISOR"]

#: UART clock cycles per bit of a simulated board. The boards run at 1 Mbaud (12 to 100 cycles per
#: bit); simulating every one of those cycles in Python would make a training step take minutes, and
#: the UART is correct at any divisor >= 4 (its tests run both).
SIM_DIVISOR = 4
#: Transport latency allowed for: a few cycles for the simulated board; USB serial adapters hold bytes
#: for up to ~16 ms.
SIM_LATENCY_CYCLES = 64
SIM_KINDS = ("sim", "sim-verilator")
SERIAL_LATENCY = 0.05


class DeviceError(ValueError):
    """A device string or its engine/link spec is not usable (one line)."""


@dataclass
class Device:
    name: str
    client: EngineClient
    board: object | None = None
    link: object | None = None           # the FrameLink, for its statistics

    def close(self) -> None:
        if self.link is not None:
            self.link.close()


def _spec(text: str | None, default: str, kind: str, option: str):
    try:
        spec = parse(text or default)
    except SpecError as e:
        raise DeviceError(f"{option}: {e}") from None
    if spec.KIND != kind:
        article = "an" if kind[0] in "aeiou" else "a"
        raise DeviceError(f"{option}={text!r} is a {spec.KIND} spec; {option} must be {article} {kind} spec")
    return spec


def parse_device(device: str):
    """(kind, board, port) of a board device string: ``("sim", board, None)`` for ``sim:BOARD``,
    ``("sim-verilator", board, None)`` for ``sim-verilator:BOARD``, ``("serial", board, PORT)`` for
    ``BOARD:PORT``."""
    from ..boards.registry import BOARDS, UnknownBoard, get_board
    kind, sep, rest = device.partition(":")
    if not sep or not rest:
        raise DeviceError(f"--device={device!r} is not a device; use golden, sim:BOARD, sim-verilator:BOARD or BOARD:PORT "
                          f"(boards: {'|'.join(BOARDS)})")
    try:
        board = get_board(rest if kind in SIM_KINDS else kind)
    except UnknownBoard as e:
        raise DeviceError(f"--device={device!r}: {e}") from None
    return (kind, board, None) if kind in SIM_KINDS else ("serial", board, rest)


def link_latency(kind: str, board) -> float:
    """Seconds of transport latency the link driver allows for on top of wire time and engine work."""
    if kind in SIM_KINDS:
        return SIM_LATENCY_CYCLES / board.clock_hz
    return SERIAL_LATENCY


def sim_transport(board, spec, link_spec):
    """The board top of ``spec`` and ``link_spec`` in Amaranth's simulator, as a transport."""
    from ..gen.board_top import BoardTop
    from ..sim.board_sim import BoardSim
    from .transports import SimTransport
    top = BoardTop(spec, link_spec, clock_hz=board.clock_hz)
    return SimTransport(BoardSim(top, link_spec.divisor), board.clock_hz)


def verilator_transport(board, spec, link_spec):
    """The same board top compiled by Verilator, as a transport (built once per spec, cached)."""
    from ..sim.verilator_board import VerilatorBoard
    from .transports import SimTransport
    return SimTransport(VerilatorBoard(spec, link_spec, board.clock_hz), board.clock_hz)


def connect(name: str, transport, spec, link_spec, board, *, latency: float) -> Device:
    """The link driver over ``transport``: sequence numbers resynchronised, the spec hash checked.
    On failure the transport is closed (a port is freed, a recording kept)."""
    from .link import FrameLink
    frames = FrameLink(transport, spec, link_spec, clock_hz=board.clock_hz, latency=latency)
    try:
        frames.connect()
        client = EngineClient(frames, spec)
        client.check_spec()
    except BaseException:
        frames.close()
        raise
    return Device(name, client, board, frames)


def open_device(device: str, *, engine: str | None = None, link: str | None = None,
                record: str | None = None) -> Device:
    """Connect to ``device`` and check its spec. ``engine``/``link`` override the board's presets;
    ``record`` writes the exchange to a fixture file (see :mod:`zoforge.device.fixtures`)."""
    if device == "golden":
        if link:
            raise DeviceError("--link applies to boards; the golden device has no link")
        from ..golden.engine_model import EngineModel
        spec = _spec(engine, "engine-s", "engine", "--engine")
        client = EngineClient(EngineModel(spec), spec)
        client.check_spec()
        return Device("golden", client)
    kind, board, port = parse_device(device)
    spec = _spec(engine, board.engine, "engine", "--engine")
    if kind == "sim":
        link_spec = _spec(link, str(board.link.replace(divisor=SIM_DIVISOR)), "link", "--link")
        transport = sim_transport(board, spec, link_spec)
    elif kind == "sim-verilator":
        link_spec = _spec(link, str(board.link), "link", "--link")
        transport = verilator_transport(board, spec, link_spec)
    else:
        link_spec = _spec(link, str(board.link), "link", "--link")
        from .transports import SerialTransport
        transport = SerialTransport(port, link_spec.baud(board.clock_hz))
    if record:
        from .fixtures import RecordingTransport
        transport = RecordingTransport(transport, record, device=device, engine=str(spec), link=str(link_spec))
    return connect(device, transport, spec, link_spec, board, latency=link_latency(kind, board))
