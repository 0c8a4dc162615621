"""The engine gateware in Amaranth's simulator behind the same ``transact`` as the golden model.

Members
-------
SimEngine(spec, *, valid_prob=1.0, ready_prob=1.0, rng_seed=0, vcd=None)
  .transact(commands) -> responses   whole commands in, their whole responses out (the response
                                     lengths follow from the protocol and each status byte)
  .link                              the :class:`~zoforge.sim.bytestream.ByteStreamSim` (cycles, close)
"""

from __future__ import annotations

from ..golden import engine_protocol as P
from .bytestream import ByteStreamSim

__all__ = ["SimEngine", "split_commands", "responses_done"]


def split_commands(spec, data: bytes) -> list[bytes]:
    """Whole commands of ``data``; raises ValueError when it ends inside one."""
    out, at = [], 0
    while at < len(data):
        n = P.command_length(spec, data[at:])
        if n is None or at + n > len(data):
            raise ValueError(f"engine: command 0x{data[at]:02x} at byte {at} is truncated")
        out.append(data[at:at + n])
        at += n
    return out


def responses_done(spec, commands: list[bytes]):
    """A ``done`` predicate: true once the responses to all ``commands`` have arrived."""
    def done(rx: bytes) -> bool:
        at = 0
        for command in commands:
            if len(rx) <= at:
                return False
            at += P.response_length(spec, command, rx[at])
        return len(rx) >= at
    return done


class SimEngine:
    def __init__(self, spec, *, valid_prob: float = 1.0, ready_prob: float = 1.0, rng_seed: int = 0,
                 vcd: str | None = None):
        self.spec = spec
        self.link = ByteStreamSim(spec.create(), valid_prob=valid_prob, ready_prob=ready_prob,
                                  rng_seed=rng_seed, vcd=vcd)

    def transact(self, commands: bytes) -> bytes:
        parts = split_commands(self.spec, bytes(commands))
        return self.link.exchange(bytes(commands), responses_done(self.spec, parts))

    def close(self) -> None:
        self.link.close()
