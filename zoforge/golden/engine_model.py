"""Golden engine: executes the byte command stream of :mod:`zoforge.golden.engine_protocol` with the
blocks' numpy models and returns the response bytes the gateware must send.

Members
-------
EngineModel(spec)     the executor
  .feed(data)         bytes in (any split, commands may straddle calls) -> response bytes
  .transact(command)  one or more whole commands -> their responses; raises TruncatedCommand when the
                      bytes end inside a command (the engine would wait for the rest)
  .abandon(pending)   the watchdog's end of such a command: its effects so far, then the TIMEOUT status
  .weights            weight memory, int64 (words, lanes) codes (a copy)
  .z(count)           the chain's first ``count`` words for the current seed, start row and scale
  .counters           dict: commands, errors, perturb_overflows, update_overflows
TruncatedCommand      ValueError subclass
"""

from __future__ import annotations

import numpy as np

from . import engine_protocol as P
from .engine_protocol import Code, Op
from .fixed import fit
from .mac import matmul
from .perturb import perturb_codes
from .pezo import perturbation
from .update import update_codes

__all__ = ["EngineModel", "TruncatedCommand"]

_TOP32 = (1 << 32) - 1


class TruncatedCommand(ValueError):
    """The bytes given to ``transact`` end inside a command; ``pending`` holds its bytes."""

    def __init__(self, message: str, pending: bytes):
        super().__init__(message)
        self.pending = pending


class EngineModel:
    def __init__(self, spec):
        self.spec = spec
        rng = spec.rng_spec
        self._w = np.zeros((spec.words, spec.lanes), dtype=np.int64)
        self.seed = rng.seed                 # the chain runs from the spec's seed after reset
        self.start_row = 0
        self.q = rng.q if spec.has_scale else None
        self.sr_pos = 0                      # words the rounding LFSR has advanced
        self.counters = dict.fromkeys(("commands", "errors", "perturb_overflows", "update_overflows"), 0)
        self._buf = b""

    @property
    def weights(self) -> np.ndarray:
        return self._w.copy()

    # ---- byte interface ----
    def feed(self, data: bytes) -> bytes:
        self._buf += bytes(data)
        out = b""
        while (n := P.command_length(self.spec, self._buf)) is not None and len(self._buf) >= n:
            command, self._buf = self._buf[:n], self._buf[n:]
            out += self._execute(command)
        return out

    def transact(self, command: bytes) -> bytes:
        out = self.feed(command)
        if self._buf:
            pending, self._buf = self._buf, b""
            raise TruncatedCommand(f"engine: command 0x{pending[0]:02x} is truncated after {len(pending)} bytes",
                                   pending)
        return out

    def abandon(self, pending: bytes) -> bytes:
        """A command whose bytes stopped after ``pending``, abandoned: the TIMEOUT status (counted as
        an error). What the command did before it stalled is kept, and that is only counting: its
        opcode was counted, and a FORWARD whose arguments arrived has sent its status (an error status
        counted) before its activations. Weights are untouched: LOAD writes nothing unless all its
        data is at hand (the gateware checks it against the bytes left in the frame)."""
        spec = self.spec
        self.counters["commands"] = (self.counters["commands"] + 1) & _TOP32
        head = 1 + P.arg_bytes(spec, pending[0])
        if pending[0] == Op.FORWARD and len(pending) >= head:
            a = P.decode_args(spec, Op.FORWARD, pending[1:head])
            if not self._forward_ok(a):
                self._status(Code.BAD_ARGUMENT)
        return self._status(Code.TIMEOUT)

    # ---- execution ----
    def _status(self, code: int) -> bytes:
        if code != Code.OK:
            self.counters["errors"] = (self.counters["errors"] + 1) & _TOP32
        c = self.counters
        flag = P.OVERFLOW_FLAG if c["perturb_overflows"] or c["update_overflows"] else 0
        return bytes([code | flag])

    def _execute(self, command: bytes) -> bytes:
        spec, op = self.spec, command[0]
        head = 1 + P.arg_bytes(spec, op)
        a = P.decode_args(spec, op, command[1:head])
        data = command[head:]
        self.counters["commands"] = (self.counters["commands"] + 1) & _TOP32
        if op not in Op._value2member_map_:
            return self._status(Code.UNKNOWN_OPCODE)
        return self._handlers[Op(op)](self, a, data)

    def _ping(self, a, data):
        return self._status(Code.OK)

    def _info(self, a, data):
        return self._status(Code.OK) + P.info_payload(self.spec)

    def _report(self, a, data):
        c = self.counters
        return self._status(Code.OK) + P.to_bytes([c["commands"], c["errors"], c["perturb_overflows"],
                                                   c["update_overflows"]], 4)

    def _clear(self, a, data):
        self.counters = dict.fromkeys(self.counters, 0)
        return self._status(Code.OK)

    def _range_ok(self, addr: int, count: int) -> bool:
        return count >= 1 and addr + count <= self.spec.words

    def _load(self, a, data):
        if not self._range_ok(a["addr"], a["count"]):
            return self._status(Code.BAD_ARGUMENT)
        self._w[a["addr"]:a["addr"] + a["count"]] = P.from_bytes(data, self.spec.w_bytes).reshape(-1, self.spec.lanes)
        return self._status(Code.OK)

    def _read(self, a, data):
        if not self._range_ok(a["addr"], a["count"]):
            return self._status(Code.BAD_ARGUMENT)
        return self._status(Code.OK) + P.to_bytes(self._w[a["addr"]:a["addr"] + a["count"]], self.spec.w_bytes)

    def _seed(self, a, data):
        if not 1 <= a["seed"] < 1 << self.spec.seed_lfsr.width:
            return self._status(Code.BAD_ARGUMENT)
        self.seed, self.start_row = a["seed"], 0
        return self._status(Code.OK)

    def _start(self, a, data):
        if not self.spec.has_pool:
            return self._status(Code.UNSUPPORTED)
        if not a["row"] < self.spec.pool_rows:
            return self._status(Code.BAD_ARGUMENT)
        self.start_row = a["row"]
        return self._status(Code.OK)

    def _scale(self, a, data):
        if not self.spec.has_scale:
            return self._status(Code.UNSUPPORTED)
        if not 1 <= a["q"] < 1 << (self.spec.rng_spec.sfrac + 1):
            return self._status(Code.BAD_ARGUMENT)
        self.q = a["q"]
        return self._status(Code.OK)

    def z(self, count: int) -> np.ndarray:
        """Words 0 .. count-1 of a pass: the chain restarted from the seed (or the pool start row)."""
        spec, rng = self.spec, self.spec.rng_spec
        if rng.KIND == "pezo":
            first = self.start_row * spec.lanes if spec.has_pool else 0
            codes = perturbation(rng, first, count * spec.lanes, seed=self.seed, q=self.q)
            return codes.astype(np.int64).reshape(count, spec.lanes)
        return rng.golden(count, seed=self.seed)

    def _count_overflows(self, key: str, sat: np.ndarray) -> None:
        self.counters[key] = min(_TOP32, self.counters[key] + int(sat.sum()))

    def _perturb(self, a, data):
        s, count = a["s"], a["count"]
        if s not in (1, -1, -2) or not 1 <= count <= self.spec.words:
            return self._status(Code.BAD_ARGUMENT)
        self._w[:count], sat = perturb_codes(self.spec.perturb, self._w[:count], self.z(count), s)
        self._count_overflows("perturb_overflows", sat)
        return self._status(Code.OK)

    def _update(self, a, data):
        count, upd = a["count"], self.spec.update
        if not 1 <= count <= self.spec.words:
            return self._status(Code.BAD_ARGUMENT)
        bits = upd.random_bits(count, start=self.sr_pos)
        self.sr_pos += count
        self._w[:count], sat = update_codes(upd, self._w[:count], self.z(count), a["c"], 1, bits)
        self._count_overflows("update_overflows", sat)
        return self._status(Code.OK)

    def _forward_ok(self, a) -> bool:
        spec, cols = self.spec, a["cols"]
        kw = -(-cols // spec.lanes)
        return (a["rows"] >= 1 and a["n"] >= 1 and 1 <= cols <= spec.max_cols
                and a["base"] + a["rows"] * kw <= spec.words)

    def _forward(self, a, data):
        spec = self.spec
        base, rows, cols, n = a["base"], a["rows"], a["cols"], a["n"]
        kw = -(-cols // spec.lanes)
        if not self._forward_ok(a):
            return self._status(Code.BAD_ARGUMENT)
        X = P.from_bytes(data, spec.a_bytes).reshape(n, cols)
        W = self._w[base:base + rows * kw].reshape(rows, kw * spec.lanes)[:, :cols]
        Y = fit(matmul(X, W.T), spec.mac.acc_format, "wrap")
        order = P.forward_order(spec, n, rows)
        return self._status(Code.OK) + P.to_bytes(Y[order[:, 0], order[:, 1]], spec.acc_bytes)

    _handlers = {Op.PING: _ping, Op.INFO: _info, Op.STATUS: _report, Op.CLEAR: _clear, Op.LOAD: _load,
                 Op.READ: _read, Op.SEED: _seed, Op.START: _start, Op.SCALE: _scale, Op.PERTURB: _perturb,
                 Op.UPDATE: _update, Op.FORWARD: _forward}
