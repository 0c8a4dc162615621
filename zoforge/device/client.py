"""Typed host calls of the engine protocol over any link with ``transact(command) -> response``
(the golden :class:`~zoforge.golden.engine_model.EngineModel`, the simulated
:class:`~zoforge.sim.engine_sim.SimEngine`, or a board link).

Members
-------
EngineClient(link, spec)
  ping(), info(), check_spec(), status(), clear()
  load(addr, words), read(addr, count)
  seed(value), start(row), scale(q)
  perturb(s, count), update(c, count)
  forward(base, rows, X) -> (n, rows) int64 sums
  LOAD, READ and FORWARD are split into several commands when the link limits one frame
  (``link.max_command`` / ``link.max_response`` bytes); the results are the same.
  .overflow         bit 7 of the last status byte (an overflow counter is non-zero); status() reports it
EngineError         a command was answered with an error code (``.code``, ``.command``) or with a
                    malformed answer (``.code`` None); one line
SpecMismatch        the engine's spec hash is not the host's
"""

from __future__ import annotations

import numpy as np

from ..golden import engine_protocol as P
from ..golden.engine_protocol import Code, Op

__all__ = ["EngineClient", "EngineError", "SpecMismatch"]


class EngineError(RuntimeError):
    def __init__(self, command: bytes, code: int | None, problem: str = ""):
        self.command, self.code = command, code
        if code is not None:
            name = Code(code).name if code in Code._value2member_map_ else f"unknown code {code}"
            problem = f"failed with {name}"
        super().__init__(f"engine: command 0x{command[0]:02x} {problem}")


class SpecMismatch(RuntimeError):
    """The engine reports another spec hash than the host expects."""


class EngineClient:
    def __init__(self, link, spec):
        self.link, self.spec = link, spec
        self.overflow = False
        self.max_command = getattr(link, "max_command", None) or 1 << 62
        self.max_response = getattr(link, "max_response", None) or 1 << 62

    def _per_frame(self, fixed: int, per_item: int, limit: int, what: str) -> int:
        """How many items of ``per_item`` bytes fit in a frame of ``limit`` bytes after ``fixed``."""
        n = (limit - fixed) // per_item
        if n < 1:
            raise ValueError(f"engine: one {what} needs {fixed + per_item} bytes; the link carries {limit}")
        return n

    def call(self, command: bytes) -> bytes:
        """Send one command; return its response data (after the status byte)."""
        rsp = self.link.transact(command)
        if not rsp or rsp[0] & 0x70:
            raise EngineError(command, None, f"was answered with {bytes(rsp[:8]).hex() or 'nothing'}, not a "
                                             f"status byte (an engine of another version?)")
        self.overflow = bool(rsp[0] & P.OVERFLOW_FLAG)
        code = rsp[0] & 0x0F
        if code != Code.OK:
            raise EngineError(command, code)
        expected = P.response_length(self.spec, command, rsp[0])
        if len(rsp) != expected:
            raise EngineError(command, None, f"was answered with {len(rsp)} bytes, expected {expected} (a board "
                                             f"built with another response buffer or engine spec?)")
        return rsp[1:]

    # ---- housekeeping ----
    def ping(self) -> None:
        self.call(bytes([Op.PING]))

    def info(self) -> dict:
        return P.decode_info(self.call(bytes([Op.INFO])))

    def check_spec(self) -> dict:
        """INFO, and refuse an engine built from another spec (no silent mismatch of numbers)."""
        info = self.info()
        if info["hash"] != self.spec.hash:
            raise SpecMismatch(f"engine reports spec hash {info['hash'].hex()}, the host's spec {self.spec} "
                               f"has {self.spec.hash.hex()}")
        return info

    def status(self) -> dict:
        """The engine's counters, and ``overflow``: its status byte's flag (a weight saturated since
        the last CLEAR)."""
        return {**P.decode_status(self.call(bytes([Op.STATUS]))), "overflow": self.overflow}

    def clear(self) -> None:
        self.call(bytes([Op.CLEAR]))

    # ---- weights ----
    def load(self, addr: int, words) -> None:
        words = np.asarray(words, dtype=np.int64).reshape(-1, self.spec.lanes)
        step = self._per_frame(1 + P.arg_bytes(self.spec, Op.LOAD), self.spec.lanes * self.spec.w_bytes,
                               self.max_command, "LOAD word")
        for at in range(0, len(words), step):
            self.call(P.load(self.spec, addr + at, words[at:at + step]))

    def read(self, addr: int, count: int) -> np.ndarray:
        step = self._per_frame(1, self.spec.lanes * self.spec.w_bytes, self.max_response, "READ word")
        parts = [P.decode_words(self.spec, self.call(P.read(self.spec, addr + at, min(step, count - at))))
                 for at in range(0, max(count, 1), step)]      # count 0 still asks (the engine refuses it)
        return np.concatenate(parts) if parts else np.zeros((0, self.spec.lanes), dtype=np.int64)

    # ---- random numbers ----
    def seed(self, value: int) -> None:
        self.call(P.seed(self.spec, value))

    def start(self, row: int) -> None:
        self.call(P.start(self.spec, row))

    def scale(self, q: int) -> None:
        self.call(P.scale(self.spec, q))

    # ---- passes and products ----
    def perturb(self, s: int, count: int) -> None:
        self.call(P.perturb(self.spec, s, count))

    def update(self, c: int, count: int) -> None:
        self.call(P.update(self.spec, c, count))

    def forward(self, base: int, rows: int, X) -> np.ndarray:
        spec = self.spec
        X = np.asarray(X, dtype=np.int64)
        X = X[None, :] if X.ndim == 1 else X
        n, cols = X.shape
        kw = -(-cols // spec.lanes)
        # Rows per command so that one group of ``batch`` vectors answers within a frame, then vectors
        # per command in whole groups, within both limits.
        rows_step = self._per_frame(1, spec.batch * spec.acc_bytes, self.max_response, "FORWARD row")
        out = np.zeros((n, rows), dtype=np.int64)
        for r in range(0, rows, rows_step):
            m = min(rows_step, rows - r)
            by_rsp = self._per_frame(1, m * spec.acc_bytes, self.max_response, "FORWARD vector")
            by_cmd = self._per_frame(1 + P.arg_bytes(spec, Op.FORWARD), cols * spec.a_bytes, self.max_command,
                                     "FORWARD vector")
            step = min(by_rsp, by_cmd)
            step = step - step % spec.batch if step >= spec.batch else step
            for v in range(0, n, step):
                part = X[v:v + step]
                data = self.call(P.forward(spec, base + r * kw, m, part))
                out[v:v + len(part), r:r + m] = P.decode_forward(spec, data, len(part), m)
        return out
