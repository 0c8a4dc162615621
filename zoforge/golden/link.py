"""The board link (kind ``link``): how engine commands and responses cross a UART, and the golden
model of the board's side of it.

Wire format, both directions: SLIP-delimited frames (END 0xC0 before and after each frame; inside
it 0xC0 is sent as ESC 0xDB + 0xDC and 0xDB as 0xDB 0xDD). A decoded frame is

    seq u8 | body | crc u16, big-endian

where the CRC is CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, no reflection) of ``seq | body``, so a
frame that arrived intact has a CRC of 0 over all its bytes. Host to board, the body is exactly one
engine command; board to host, it is the engine's whole response to that command, with the same seq.

Exactly-once delivery: the board drops every frame that is shorter than 4 bytes, longer than
``cmd_bytes``, badly escaped or fails its CRC (it sends nothing back; the host times out and sends
the very same frame again). It remembers the seq and CRC of the last frame it executed together with
the response; a frame with both equal is a retry, answered from that copy without running the
command again. So a host that resends a frame until it gets the answer never loses a command and
never applies one twice. The host steps ``seq`` by one per new command (mod 256); at connect it
sends two PINGs with consecutive seqs, so that its first real command can never look like a retry of
a frame from an earlier session.

Limits the host must keep (the driver checks them): a command frame holds at most ``cmd_bytes``
bytes (body <= ``cmd_bytes - 3``), and a response body at most ``rsp_bytes`` bytes (longer
responses would be cut there).

Members: :class:`LinkSpec` (UART divisor, buffer sizes), :func:`crc16`, :func:`slip_encode`,
:func:`frame`, :class:`FrameDecoder` (bytes in, raw frames out), :func:`check_frame`,
:class:`LinkModel` (the board's link in software, in front of an engine model).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from .spec import Spec, param, register

__all__ = ["LinkSpec", "END", "ESC", "ESC_END", "ESC_ESC", "CRC_BYTES", "MIN_FRAME", "crc16", "slip_encode",
           "frame", "FrameDecoder", "check_frame", "LinkModel"]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
CRC_BYTES = 2
MIN_FRAME = 1 + 1 + CRC_BYTES       # seq, at least an opcode, CRC


@register
@dataclass(frozen=True, kw_only=True)
class LinkSpec(Spec):
    """UART and framing parameters of a board top."""

    KIND = "link"
    SUMMARY = "UART + SLIP/CRC-16 framing with sequence numbers between host and engine"

    divisor: int = param(12, lo=4, hi=65535, doc="clock cycles per UART bit (baud = clock / divisor)")
    cmd_bytes: int = param(512, lo=64, hi=16384, shown="a power of two in [64, 16384]",
                           doc="command frame buffer: seq + command + CRC")
    rsp_bytes: int = param(512, lo=64, hi=16384, shown="a power of two in [64, 16384]",
                           doc="response buffer (kept for retries)")

    def validate(self) -> None:
        for name in ("cmd_bytes", "rsp_bytes"):
            value = getattr(self, name)
            if value & (value - 1):
                self.fail(name, "is not a power of two; it must be a power of two in [64, 16384]")

    @property
    def max_command(self) -> int:
        """Longest command body a frame can carry."""
        return self.cmd_bytes - 1 - CRC_BYTES

    @property
    def max_response(self) -> int:
        return self.rsp_bytes

    def baud(self, clock_hz: float) -> float:
        return clock_hz / self.divisor


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/IBM-3740 (also called CCITT-FALSE)."""
    return binascii.crc_hqx(bytes(data), crc)


def slip_encode(payload: bytes) -> bytes:
    """``payload`` escaped and wrapped in END bytes."""
    body = bytes(payload).replace(bytes([ESC]), bytes([ESC, ESC_ESC])).replace(bytes([END]), bytes([ESC, ESC_END]))
    return bytes([END]) + body + bytes([END])


def frame(seq: int, body: bytes) -> bytes:
    """The wire bytes of one frame."""
    raw = bytes([seq & 0xFF]) + bytes(body)
    return slip_encode(raw + crc16(raw).to_bytes(CRC_BYTES, "big"))


def check_frame(raw: bytes) -> tuple[int, bytes] | None:
    """(seq, body) of a decoded frame, or None when it is too short or its CRC fails."""
    if len(raw) < MIN_FRAME or crc16(raw) != 0:
        return None
    return raw[0], bytes(raw[1:-CRC_BYTES])


class FrameDecoder:
    """SLIP decoding, one byte at a time: ``feed(data)`` returns the frames completed by ``data``.

    A frame longer than ``limit`` bytes or with a bad escape is returned as None (the receiver counts
    it as damaged); empty frames (END END) are skipped."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self._buf = bytearray()
        self._esc = self._bad = False

    def feed(self, data: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        for b in bytes(data):
            if b == END:
                if self._buf or self._bad or self._esc:
                    out.append(None if (self._bad or self._esc) else bytes(self._buf))
                self._buf.clear()
                self._esc = self._bad = False
                continue
            if self._esc:
                self._esc = False
                if b == ESC_END:
                    b = END
                elif b == ESC_ESC:
                    b = ESC
                else:
                    self._bad = True
                    continue
            elif b == ESC:
                self._esc = True
                continue
            if self.limit is not None and len(self._buf) >= self.limit:
                self._bad = True
            elif not self._bad:
                self._buf.append(b)
        return out


@dataclass
class LinkCounters:
    frames: int = 0          # frames executed
    retries: int = 0         # frames answered from the kept response
    dropped: int = 0         # frames dropped (short, long, bad escape, bad CRC)


class LinkModel:
    """The board's link in software: wire bytes in, wire bytes out, in front of anything with
    ``transact(command) -> response`` (an :class:`~zoforge.golden.engine_model.EngineModel`).

    The gateware (:mod:`zoforge.gen.link`) sends the same bytes for the same input."""

    def __init__(self, engine, spec: LinkSpec):
        self.engine, self.spec = engine, spec
        self.decoder = FrameDecoder(limit=spec.cmd_bytes)
        self.counters = LinkCounters()
        self._last: tuple[int, int] | None = None     # (seq, crc) of the last executed frame
        self._response = b""

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for raw in self.decoder.feed(data):
            checked = None if raw is None else check_frame(raw)
            if checked is None:
                self.counters.dropped += 1
                continue
            seq, body = checked
            key = (seq, int.from_bytes(raw[-CRC_BYTES:], "big"))
            if key == self._last:
                self.counters.retries += 1
            else:
                self._response = bytes(self.engine.transact(body))[:self.spec.rsp_bytes]
                self._last = key
                self.counters.frames += 1
            out += frame(seq, self._response)
        return bytes(out)
