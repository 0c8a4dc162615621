"""Small gateware helpers shared by the blocks."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Signal, Value

from ..golden.gf2 import Matrix

__all__ = ["gf2_apply", "pipe_stage", "join"]


def gf2_apply(matrix: Matrix, value: Value) -> Value:
    """The XOR network of a GF(2) matrix: output bit i is the parity of the bits selected by row i."""
    return Cat(*((value & Const(row, matrix.n)).xor() for row in matrix.rows))


def pipe_stage(m, i, o, payload) -> None:
    """A registered stream stage: ``o.payload <= payload`` (a function of ``i.payload``) on every
    transfer into the stage. Throughput one per cycle; ``o.valid`` never depends on ``o.ready``."""
    m.d.comb += i.ready.eq(~o.valid | o.ready)
    with m.If(i.valid & i.ready):
        m.d.sync += [o.valid.eq(1), o.payload.eq(payload)]
    with m.Elif(o.ready):
        m.d.sync += o.valid.eq(0)


def join(m: Module, *streams) -> SimpleNamespace:
    """A stream-like ``valid``/``ready`` pair that transfers exactly when every input does. Each
    input's ``ready`` depends on the others' ``valid`` (allowed: a sink may wait for valid)."""
    valid, ready = Signal(name="join_valid"), Signal(name="join_ready")
    m.d.comb += valid.eq(Cat(s.valid for s in streams).all())
    for s in streams:
        others = Cat(o.valid for o in streams if o is not s)
        m.d.comb += s.ready.eq(ready & (others.all() if len(others) else 1))
    return SimpleNamespace(valid=valid, ready=ready)
