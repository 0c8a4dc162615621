"""Where the engine runs, named by one string (``zoforge train --device``):

``golden``          the golden engine model in this process (no link)
``sim:BOARD``       BOARD's board top (UART, link, engine) in Amaranth's simulator, through the host
                    link driver; the UART divisor is :data:`SIM_DIVISOR` unless ``link`` is given
``BOARD:PORT``      a flashed board on a serial port, e.g. ``icebreaker:/dev/ttyUSB1``

Every device is checked on connect: its spec hash must be the host's (no silent mismatch).

Members: :func:`open_device` -> :class:`Device`, :class:`DeviceError`, :data:`SIM_DIVISOR`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..golden.spec import SpecError, parse
from .engine_client import EngineClient

__all__ = ["Device", "DeviceError", "open_device", "SIM_DIVISOR"]

#: UART clock cycles per bit of a simulated board. The boards run at 1 Mbaud (12 to 100 cycles per
#: bit); simulating every one of those cycles in Python would make a training step take minutes, and
#: the UART is correct at any divisor >= 4 (its tests run both).
SIM_DIVISOR = 4


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


def open_device(device: str, *, engine: str | None = None, link: str | None = None,
                record: str | None = None) -> Device:
    """Connect to ``device`` and check its spec. ``engine``/``link`` override the board's presets;
    ``record`` writes the exchange to a fixture file (see :mod:`zoforge.host.fixtures`)."""
    from ..boards.registry import BOARDS, UnknownBoard, get_board
    from ..golden import catalogue  # noqa: F401  (registers the spec kinds)
    if device == "golden":
        if link:
            raise DeviceError("--link applies to boards; the golden device has no link")
        from ..golden.engine_model import EngineModel
        spec = _spec(engine, "engine-s", "engine", "--engine")
        client = EngineClient(EngineModel(spec), spec)
        client.check_spec()
        return Device("golden", client)
    kind, sep, rest = device.partition(":")
    if not sep or not rest:
        raise DeviceError(f"--device={device!r} is not a device; use golden, sim:BOARD or BOARD:PORT "
                          f"(boards: {'|'.join(BOARDS)})")
    try:
        board = get_board(rest if kind == "sim" else kind)
    except UnknownBoard as e:
        raise DeviceError(f"--device={device!r}: {e}") from None
    spec = _spec(engine, board.engine, "engine", "--engine")
    if kind == "sim":
        link_spec = _spec(link, str(board.link.replace(divisor=SIM_DIVISOR)), "link", "--link")
        transport = _sim_transport(spec, link_spec, board.clock_hz)
        latency = 64 / board.clock_hz
    else:
        link_spec = _spec(link, str(board.link), "link", "--link")
        from .transports import SerialTransport
        transport = SerialTransport(rest, link_spec.baud(board.clock_hz))
        latency = 0.05                      # USB serial adapters hold bytes for up to ~16 ms
    if record:
        from .fixtures import RecordingTransport
        transport = RecordingTransport(transport, record, device=device, engine=str(spec), link=str(link_spec))
    from .board_link import FrameLink
    frames = FrameLink(transport, spec, link_spec, clock_hz=board.clock_hz, latency=latency)
    try:
        frames.connect()
        client = EngineClient(frames, spec)
        client.check_spec()
    except BaseException:
        frames.close()                      # the port is free again, and a recording is kept
        raise
    return Device(device, client, board, frames)


def _sim_transport(spec, link_spec, clock_hz):
    from ..boards.top import BoardTop
    from ..sim.board_sim import BoardSim
    from .transports import SimTransport
    top = BoardTop(spec, link_spec, clock_hz=clock_hz)
    return SimTransport(BoardSim(top, link_spec.divisor), clock_hz)
