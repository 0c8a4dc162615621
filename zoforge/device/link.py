"""The host's side of the board link (wire format: :mod:`zoforge.golden.link`): one engine command per
frame, resent until its answer arrives, so that nothing is lost and nothing is applied twice.

``FrameLink.transact(command)`` is what :class:`~zoforge.device.client.EngineClient` calls, so the
same client drives the golden model, the simulated board and a real board. The transport only moves
bytes (``write``, ``read_until(terminator, timeout)``, ``close``), see :mod:`zoforge.device.transports`.

Timeouts follow the time a frame needs on the wire at the link's baud rate, plus the engine's work
(a few clock cycles per weight word and per MAC beat) and a fixed ``latency`` for the transport (USB
serial adapters buffer for milliseconds). They are in seconds of the board's time: a simulated board
counts them in simulated clock cycles.

Members
-------
FrameLink(transport, engine_spec, link_spec, *, clock_hz, latency=0.02, tries=8, progress=None)
  .connect()                 a hello: the board's last seq (the session continues after it) and its
                             buffer sizes, refused in one line when they are not the host's
  .transact(command) -> response
  .max_command, .max_response   limits of one frame (EngineClient splits longer work)
  .stats                     frames sent, resent, answers rejected (bad CRC, stale seq), timeouts,
                             notices (a command refused because its seq was not the next one: it
                             is sent again with the next seq; a refused frame never ran)
LinkError                    no valid answer after ``tries`` sends, or a board built with other buffers

The board's rule (:mod:`zoforge.golden.link`) runs only the seq after its last one, so the host
always knows where it stands: a notice answering its frame says the frame did not run and names the
board's last seq; the host continues after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..golden import engine_protocol as P
from ..golden.engine_protocol import Op
from ..golden.link import END, NOTICE_BYTES, FrameDecoder, check_frame, decode_notice, frame

__all__ = ["FrameLink", "LinkError", "LinkStats"]

BITS_PER_BYTE = 10          # 8N1
ENGINE_OVERHEAD = 256       # cycles of decoding, pipelines and handshakes per command


class LinkError(RuntimeError):
    """The board did not answer a command validly after all retries."""


@dataclass
class LinkStats:
    frames: int = 0
    resent: int = 0
    rejected: int = 0
    timeouts: int = 0
    notices: int = 0


class FrameLink:
    def __init__(self, transport, engine_spec, link_spec, *, clock_hz: float, latency: float = 0.02,
                 tries: int = 8):
        self.transport, self.spec, self.link = transport, engine_spec, link_spec
        self.clock_hz, self.latency, self.tries = float(clock_hz), float(latency), tries
        self.baud = link_spec.baud(clock_hz)
        self.seq = 0
        self.stats = LinkStats()
        self._decoder = FrameDecoder()

    @property
    def max_command(self) -> int:
        return self.link.max_command

    @property
    def max_response(self) -> int:
        return self.link.max_response

    def connect(self) -> dict:
        """A hello (an empty frame, never executed): the board's notice gives its last seq, so the
        first command is new to it, and its buffer sizes, checked against the host's link spec."""
        return decode_notice(self._send(b"", self._wire_time(3, NOTICE_BYTES) + self.latency))

    def _check(self, note: dict) -> None:
        mine = {"cmd_bytes": self.link.cmd_bytes, "rsp_bytes": self.link.rsp_bytes}
        theirs = {k: note[k] for k in mine}
        if theirs != mine:
            show = lambda d: ", ".join(f"{k}={v}" for k, v in d.items())   # noqa: E731
            raise LinkError(f"link: the board was built with {show(theirs)}, the host's link spec {self.link} has "
                            f"{show(mine)}; pass the board's link spec (--link) or rebuild the board")

    def _wire_time(self, sent: int, answered: int) -> float:
        return 2 * (2 * sent + 8 + 2 * answered + 8) * BITS_PER_BYTE / self.baud

    def timeout(self, command: bytes) -> float:
        """Seconds to wait for the answer to ``command``: wire time both ways, engine time, latency,
        all doubled for slack."""
        wire = self._wire_time(len(command), self._response_bound(command)) / 2
        work = (self._engine_cycles(command) + ENGINE_OVERHEAD) / self.clock_hz
        return 2 * (wire + work) + self.latency

    def _response_bound(self, command: bytes) -> int:
        return P.response_length(self.spec, command, 0)

    def _engine_cycles(self, command: bytes) -> int:
        op = command[0]
        args = P.decode_args(self.spec, op, command[1:1 + P.arg_bytes(self.spec, op)])
        if op == Op.FORWARD:
            kw = -(-args["cols"] // self.spec.lanes)
            groups = -(-args["n"] // self.spec.batch)
            return 2 * (args["rows"] * kw * groups + args["n"] * args["cols"] * self.spec.a_bytes)
        return 2 * (args.get("count", 0) + len(command))

    def transact(self, command: bytes) -> bytes:
        command = bytes(command)
        length = P.command_length(self.spec, command)
        if length != len(command):
            raise ValueError(f"link: a frame must hold exactly one whole command; got {len(command)} bytes "
                             f"for opcode 0x{command[0]:02x} (its length is {length})")
        if len(command) > self.max_command:
            raise ValueError(f"link: command 0x{command[0]:02x} has {len(command)} bytes; one frame holds at "
                             f"most {self.max_command} (split it)")
        if self._response_bound(command) > self.max_response:
            raise ValueError(f"link: the answer to command 0x{command[0]:02x} would have "
                             f"{self._response_bound(command)} bytes; one frame holds at most {self.max_response}")
        return self._send(command, self.timeout(command))

    def _send(self, body: bytes, wait: float) -> bytes:
        """Send ``body`` until a valid answer arrives; a notice moves the seq on (the frame did not
        run) and the body is sent again, except for a hello, whose answer it is."""
        self.stats.frames += 1
        what = f"command 0x{body[0]:02x}" if body else "the hello"
        for attempt in range(self.tries):
            if attempt:
                self.stats.resent += 1
            seq = self.seq
            self.transport.write(frame(seq, body))
            answer = self._await(seq, wait)
            if answer is None:
                self.stats.timeouts += 1
                continue
            note = decode_notice(answer)
            if note is not None:
                self._check(note)
                self.seq = (note["last_seq"] + 1) & 0xFF
                if not body:
                    return answer
                self.stats.notices += 1
                continue
            if not body:
                raise LinkError(f"link: the board answered the hello with {answer[:8].hex()}, not with the link's "
                                f"notice; is it flashed with this version of zoforge?")
            self.seq = (seq + 1) & 0xFF
            return answer
        raise LinkError(f"link: no valid answer to {what} (seq {self.seq}) after {self.tries} "
                        f"tries of {wait * 1e3:.1f} ms each; is the board connected, flashed with this build and "
                        f"running at {self.baud:.0f} baud?")

    def _await(self, seq: int, wait: float) -> bytes | None:
        """The body of the first intact answer with ``seq`` within ``wait`` seconds, or None."""
        left = wait
        while left > 0:
            chunk, spent = self.transport.read_until(END, left)
            left -= spent
            for raw in self._decoder.feed(chunk):
                checked = None if raw is None else check_frame(raw)
                if checked is None or checked[0] != seq:
                    self.stats.rejected += 1
                    continue
                return checked[1]
            if not chunk:
                break
        return None

    def close(self) -> None:
        self.transport.close()
