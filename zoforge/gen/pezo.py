"""The PeZO chain as one component: uniform source -> reuse -> scaling (see :mod:`zoforge.golden.pezo`).

Hierarchy (shallow): ``Pezo`` holds ``Uniform`` (with its ``LFSR``), one reuse stage
(``PoolReuse`` | ``RotateReuse`` | a wire for reuse=none) and ``Scale``.
"""

from __future__ import annotations

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.pezo import PezoSpec
from .reuse import PoolReuse, RotateReuse
from .scale import Scale
from .uniform import Uniform

__all__ = ["Pezo"]


class Pezo(wiring.Component):
    """``spec.lanes`` PeZO perturbation codes (sQ1.(bits-2)) per cycle.

    Members
    -------
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Equal to ``spec.golden(count)`` word for word, whatever the back-pressure.
    seed : In(stream.Signature(ArrayLayout(unsigned(width), src_lanes)))
        ``spec.seed_vector(seed)``; always ready. Flushes the words in flight and restarts the stream
        as ``spec.golden(count, seed=seed)`` (pool: refills first, ``spec.refill_cycles`` cycles more
        than a ``start``). The scale register is kept.
    start : In(stream.Signature(unsigned(row_bits)))    (reuse=pool only)
        A pool row r: flushes the words in flight; the next words are elements r*lanes, ... of the
        stream (``perturbation(spec, r*lanes, ...)``). Always ready; in the same cycle as a seed
        transfer it sets the row the refilled pool is read from.
    scale : In(stream.Signature(unsigned(sfrac+1)))     (scale=norm only)
        A new scale numerator q for every word transferred after this one (see ``Scale``).
    latency : int
        Cycles from reset (or a seed transfer) to the first valid word; pool includes the fill.
    """

    def __init__(self, spec: PezoSpec):
        self.spec = spec
        self.latency = spec.latency
        members = {
            "o": Out(stream.Signature(data.ArrayLayout(signed(spec.bits), spec.lanes))),
            "seed": In(stream.Signature(data.ArrayLayout(unsigned(spec.width), spec.src_lanes))),
        }
        if spec.reuse == "pool":
            members["start"] = In(stream.Signature(unsigned(spec.row_bits)))
        if spec.scale == "norm":
            members["scale"] = In(stream.Signature(unsigned(spec.sfrac + 1)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.uniform = uniform = Uniform(spec.uniform)
        m.submodules.scale = scale = Scale(spec)
        m.d.comb += [uniform.seed.payload.eq(self.seed.payload), uniform.seed.valid.eq(self.seed.valid),
                     self.seed.ready.eq(uniform.seed.ready)]
        restart = self.seed.valid & self.seed.ready
        flush = restart
        if spec.reuse == "none":
            numbers = uniform.o
        else:
            m.submodules.reuse = reuse = PoolReuse(spec) if spec.reuse == "pool" else RotateReuse(spec)
            m.d.comb += [reuse.i.payload.eq(uniform.o.payload), reuse.i.valid.eq(uniform.o.valid),
                         uniform.o.ready.eq(reuse.i.ready), reuse.restart.eq(restart)]
            if spec.reuse == "pool":
                wiring.connect(m, wiring.flipped(self.start), reuse.start)
                flush = restart | (self.start.valid & self.start.ready)
            numbers = reuse.o
        m.d.comb += [scale.i.payload.eq(numbers.payload), scale.i.valid.eq(numbers.valid),
                     numbers.ready.eq(scale.i.ready), scale.flush.eq(flush)]
        if spec.scale == "norm":
            wiring.connect(m, wiring.flipped(self.scale), scale.scale)
        wiring.connect(m, scale.o, wiring.flipped(self.o))
        return m
