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
  .overflow         bit 7 of the last status byte (an overflow counter is non-zero)
EngineError         a command was answered with an error code (``.code``, ``.command``)
SpecMismatch        the engine's spec hash is not the host's
"""

from __future__ import annotations

import numpy as np

from ..golden import engine_protocol as P
from ..golden.engine_protocol import Code, Op

__all__ = ["EngineClient", "EngineError", "SpecMismatch"]


class EngineError(RuntimeError):
    def __init__(self, command: bytes, code: int):
        self.command, self.code = command, code
        name = Code(code).name if code in Code._value2member_map_ else str(code)
        super().__init__(f"engine: command 0x{command[0]:02x} failed with {name}")


class SpecMismatch(RuntimeError):
    """The engine reports another spec hash than the host expects."""


class EngineClient:
    def __init__(self, link, spec):
        self.link, self.spec = link, spec
        self.overflow = False

    def call(self, command: bytes) -> bytes:
        """Send one command; return its response data (after the status byte)."""
        rsp = self.link.transact(command)
        if not rsp:
            raise EngineError(command, -1)
        self.overflow = bool(rsp[0] & P.OVERFLOW_FLAG)
        code = rsp[0] & 0x0F
        if code != Code.OK:
            raise EngineError(command, code)
        expected = P.response_length(self.spec, command, rsp[0])
        if len(rsp) != expected:
            raise RuntimeError(f"engine: response to 0x{command[0]:02x} has {len(rsp)} bytes, expected {expected}")
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
        return P.decode_status(self.call(bytes([Op.STATUS])))

    def clear(self) -> None:
        self.call(bytes([Op.CLEAR]))

    # ---- weights ----
    def load(self, addr: int, words) -> None:
        self.call(P.load(self.spec, addr, words))

    def read(self, addr: int, count: int) -> np.ndarray:
        return P.decode_words(self.spec, self.call(P.read(self.spec, addr, count)))

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
        X = np.asarray(X, dtype=np.int64)
        X = X[None, :] if X.ndim == 1 else X
        data = self.call(P.forward(self.spec, base, rows, X))
        return P.decode_forward(self.spec, data, len(X), rows)
