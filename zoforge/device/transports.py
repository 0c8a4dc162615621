"""Byte transports under :class:`~zoforge.device.link.FrameLink`. Each has ``write(data)``,
``read_until(terminator, timeout) -> (data, seconds)`` (bytes up to and including ``terminator``, or
whatever arrived when ``timeout`` seconds of board time passed, and the time spent) and ``close()``.

Members
-------
SerialTransport(port, baud)          a real board behind a USB serial adapter (pyserial)
SimTransport(board_sim, clock_hz)    the board top in Amaranth's simulator, UART pins included
                                     (:class:`~zoforge.sim.board_sim.BoardSim`); time is simulated
ModelTransport(link_model)           the golden link model (:class:`~zoforge.golden.link.LinkModel`),
                                     answers at once; for fast tests of the host's logic
FaultyTransport(inner, rng, ...)     injects bit errors, truncation, loss and duplicates both ways
"""

from __future__ import annotations

import time

import numpy as np

from ..tools import ToolMissing

__all__ = ["SerialTransport", "SimTransport", "ModelTransport", "FaultyTransport", "open_serial"]


def open_serial(port: str, baud: float):
    """A pyserial port at ``baud``, or a one-line error that says why not."""
    try:
        import serial
    except ImportError as e:                      # pragma: no cover - pyserial is a dependency
        raise ToolMissing("pyserial is not installed; run `make run` to set up the environment") from e
    try:
        return serial.Serial(port, baudrate=int(round(baud)), timeout=0.05)
    except (serial.SerialException, ValueError) as e:
        raise ToolMissing(f"serial port {port}: cannot open it ({str(e).splitlines()[0]}); is the board plugged "
                          f"in and is the port right? (`python -m serial.tools.list_ports` lists them)") from e


class SerialTransport:
    def __init__(self, port: str, baud: float, *, serial_port=None):
        self.port = serial_port if serial_port is not None else open_serial(port, baud)
        self.port.reset_input_buffer()

    def write(self, data: bytes) -> None:
        self.port.write(bytes(data))
        self.port.flush()

    def read_until(self, terminator: int, timeout: float) -> tuple[bytes, float]:
        begin = time.monotonic()
        self.port.timeout = max(timeout, 0.0)
        data = self.port.read_until(bytes([terminator]))
        return bytes(data), time.monotonic() - begin

    def close(self) -> None:
        self.port.close()


class SimTransport:
    """Seconds become clock cycles of the simulated board."""

    def __init__(self, board_sim, clock_hz: float):
        self.sim, self.clock_hz = board_sim, float(clock_hz)

    def write(self, data: bytes) -> None:
        self.sim.write(bytes(data))

    def read_until(self, terminator: int, timeout: float) -> tuple[bytes, float]:
        begin = self.sim.cycles
        data = self.sim.read_until(terminator, max(1, int(timeout * self.clock_hz)))
        return data, (self.sim.cycles - begin) / self.clock_hz

    def close(self) -> None:
        self.sim.close()


class ModelTransport:
    """The board's answer is ready as soon as the frame is written."""

    def __init__(self, link_model):
        self.model = link_model
        self._rx = bytearray()

    def write(self, data: bytes) -> None:
        self._rx += self.model.feed(bytes(data))

    def read_until(self, terminator: int, timeout: float) -> tuple[bytes, float]:
        at = self._rx.find(bytes([terminator]))
        if at < 0:                                  # nothing more will come: the whole timeout passes
            data, self._rx = bytes(self._rx), bytearray()
            return data, timeout
        data, self._rx = bytes(self._rx[:at + 1]), self._rx[at + 1:]
        return data, 0.0

    def close(self) -> None:
        pass


class FaultyTransport:
    """Damages traffic at random, each direction independently: per written or received chunk, with
    probability ``p`` one of: a flipped bit, a truncated tail, a lost chunk, a duplicated chunk.
    ``faults`` counts what was done."""

    KINDS = ("flip", "truncate", "lose", "duplicate")

    def __init__(self, inner, rng: np.random.Generator, p: float = 0.1):
        self.inner, self.rng, self.p = inner, rng, p
        self.faults = dict.fromkeys(self.KINDS, 0)

    def _damage(self, data: bytes) -> bytes:
        if not data or self.rng.random() >= self.p:
            return data
        kind = self.KINDS[int(self.rng.integers(len(self.KINDS)))]
        self.faults[kind] += 1
        if kind == "flip":
            b = bytearray(data)
            b[int(self.rng.integers(len(b)))] ^= 1 << int(self.rng.integers(8))
            return bytes(b)
        if kind == "truncate":
            return data[:int(self.rng.integers(len(data)))]
        if kind == "lose":
            return b""
        return data + data

    def write(self, data: bytes) -> None:
        self.inner.write(self._damage(bytes(data)))

    def read_until(self, terminator: int, timeout: float) -> tuple[bytes, float]:
        data, spent = self.inner.read_until(terminator, timeout)
        return self._damage(data), spent

    def close(self) -> None:
        self.inner.close()
