"""The board link (kind ``link``): how engine commands and responses cross a UART, and the golden
model of the board's side of it.

Wire format, both directions: SLIP-delimited frames (END 0xC0 before and after each frame; inside
it 0xC0 is sent as ESC 0xDB + 0xDC and 0xDB as 0xDB 0xDD). A decoded frame is

    seq u8 | body | crc u16, big-endian

where the CRC is CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, no reflection) of ``seq | body``, so a
frame that arrived intact has a CRC of 0 over all its bytes. Host to board, the body is exactly one
engine command; board to host, it is the engine's whole response to that command, with the same seq.

Which frames run (exactly once, for any replay). The board drops every frame that is shorter than 3
bytes, longer than ``cmd_bytes``, badly escaped or fails its CRC (it sends nothing back; the host
times out and sends the very same frame again). Of an intact frame it asks, in this order:

* **hello** (an empty body): never executed; answered with the link's *notice*.
* **retry** (the seq and CRC of the last executed frame): answered from the kept copy of that
  frame's response, not executed again.
* **new** (the seq after the last executed one, mod 256, or any seq before the first frame after a
  reset): executed; its seq, CRC and response become the kept ones.
* anything else (an older frame replayed, a seq reused for another command, a seq from the future):
  **refused**, never executed; answered with the notice.

The notice is the board's link talking, not the engine: the body ``NOTICE (0x40) | last seq |
log2(cmd_bytes) | log2(rsp_bytes)``, framed with the seq of the frame it answers (0x40 is never an
engine status: bits 4-6 of those are 0). The host opens a session with a hello: it learns the last
seq (its first command uses the next one) and checks the board's buffer sizes against its own link
spec. Because only the next seq runs, any older frame is refused, not only the last one.

Why this rule and not a window of (seq, answer) pairs: the host sends one command at a time and
resends only the same frame, so "the last frame or the next seq" is all it ever needs; a window of
kept answers would cost ``rsp_bytes`` of block RAM per entry on boards that are nearly full, while
this rule costs a seq comparison and an adder. Its limit: seq is 8 bits, so a stale frame exactly
255 frames (mod 256) older than the last looks new; a stale copy can only come from the host's own
earlier writes, which the board consumes in order long before that.

A frame whose body ends inside a command (a valid CRC over an incomplete command) is **abandoned**:
the gateware's watchdog fires when the engine has waited ``watchdog`` clock cycles for a byte of an
unfinished command, the engine returns to idle, and the frame's answer is one status byte, TIMEOUT
(the partial response of the frame is discarded). Within a frame the body's bytes follow each other
without gaps, so the golden model takes "the body ended inside a command" as that event; what the
command did before it stalled is :meth:`~zoforge.golden.engine_model.EngineModel.abandon`. Weights are
untouched: a LOAD whose data is not all in the frame writes nothing.

Limits the host must keep (the driver checks them): a command frame holds at most ``cmd_bytes``
bytes (body <= ``cmd_bytes - 3``), and a response body at most ``rsp_bytes`` bytes (longer
responses would be cut there).

Members: :class:`LinkSpec` (UART divisor, buffer sizes, watchdog), :func:`crc16`, :func:`slip_encode`,
:func:`frame`, :class:`FrameDecoder` (bytes in, raw frames out), :func:`check_frame`,
:data:`NOTICE`, :func:`notice`, :func:`decode_notice`, :class:`LinkModel` (the board's link in
software, in front of an engine model).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from .engine_model import TruncatedCommand
from .spec import Spec, param, register

__all__ = ["LinkSpec", "END", "ESC", "ESC_END", "ESC_ESC", "CRC_BYTES", "MIN_FRAME", "NOTICE", "NOTICE_BYTES",
           "crc16", "slip_encode", "frame", "FrameDecoder", "check_frame", "notice", "decode_notice", "LinkModel"]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
CRC_BYTES = 2
MIN_FRAME = 1 + CRC_BYTES           # seq and CRC: a hello; a command adds at least an opcode
NOTICE = 0x40                       # first byte of the link's own answer (never an engine status)
NOTICE_BYTES = 4


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
    watchdog: int = param(1024, lo=16, hi=1 << 20,
                          doc="clock cycles an unfinished command may wait for its next byte before it is abandoned")

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


def notice(last_seq: int, spec: LinkSpec) -> bytes:
    """The body of the link's notice: its last executed seq and its buffer sizes."""
    return bytes([NOTICE, last_seq & 0xFF, spec.cmd_bytes.bit_length() - 1, spec.rsp_bytes.bit_length() - 1])


def decode_notice(body: bytes) -> dict | None:
    """``last_seq``, ``cmd_bytes``, ``rsp_bytes`` of a notice body; None when ``body`` is not one."""
    if len(body) != NOTICE_BYTES or body[0] != NOTICE or not (body[2] < 24 and body[3] < 24):
        return None
    return {"last_seq": body[1], "cmd_bytes": 1 << body[2], "rsp_bytes": 1 << body[3]}


def check_frame(raw: bytes) -> tuple[int, bytes] | None:
    """(seq, body) of a decoded frame, or None when it is too short or its CRC fails (a hello's body is
    empty)."""
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
    refused: int = 0         # frames answered with the notice (hellos, replays, out-of-order seqs)
    abandoned: int = 0       # executed frames whose body ended inside a command


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
            if body and key == self._last:
                self.counters.retries += 1
                out += frame(seq, self._response)
            elif body and (self._last is None or seq == (self._last[0] + 1) & 0xFF):
                self._response = self._execute(body)[:self.spec.rsp_bytes]
                self._last = key
                self.counters.frames += 1
                out += frame(seq, self._response)
            else:
                self.counters.refused += 1
                out += frame(seq, notice(self._last[0] if self._last else 0, self.spec))
        return bytes(out)

    def _execute(self, body: bytes) -> bytes:
        try:
            return bytes(self.engine.transact(body))
        except TruncatedCommand as e:           # the watchdog: the frame's answer is the TIMEOUT status
            self.counters.abandoned += 1
            return bytes(self.engine.abandon(e.pending))
