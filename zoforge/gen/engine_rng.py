"""The engine's RNG subsystem: the chosen source chain plus what replaying a perturbation needs.

A pass must see the same z as every other pass of the step, so the subsystem keeps the seed vector
(or, for a pool, the start row) and restarts the chain from it on ``restart``. The seed vector is
derived from one seed word in hardware, one lane per cycle, with the lane jump matrix J of the
chain's LFSR (lane l starts at J**(l+1) seed, :meth:`LFSRSpec.lane_seeds`): one XOR network instead
of one per lane, and the host sends 8 bytes instead of the whole vector.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .common import gf2_apply

__all__ = ["RngUnit", "RngUnitSpec"]


class RngUnit(wiring.Component):
    """Source chain of ``spec.rng_spec`` with seed storage, derivation and restart.

    Members
    -------
    seed : In(stream.Signature(unsigned(64)))
        A new seed (1 <= seed < 2**width, checked by the caller). Ready while not ``busy``. Derives
        the vector in ``vector_len`` cycles, then loads it into the chain (a pool refills) and sets
        the start row to 0.
    restart : In(1)
        Restart the chain for a pass: reload the seed vector, or (pool) jump to the start row.
        Drops the words in flight; the next word out is word 0 of the pass.
    row : In(stream.Signature(unsigned(32)))      (pool chains only)
        Sets the start row of later restarts (below the pool's rows, checked by the caller).
    scale : In(stream.Signature(unsigned(sfrac+1)))   (scale=norm chains only)
        The chain's scale numerator, passed through.
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes)))
        The perturbation words z.
    busy : Out(1)
        Deriving or loading a seed.
    """

    def __init__(self, spec):
        self.spec = spec
        self.source = spec.rng_spec.create()
        self.lfsr = spec.seed_lfsr
        members = {
            "seed": In(stream.Signature(unsigned(64))),
            "restart": In(1),
            "o": Out(stream.Signature(self.source.o.payload.shape())),
            "busy": Out(1),
        }
        if spec.has_pool:
            members["row"] = In(stream.Signature(unsigned(32)))
        if spec.has_scale:
            members["scale"] = In(stream.Signature(self.source.scale.payload.shape()))
        super().__init__(members)

    @property
    def vector_len(self) -> int:
        return self.source.seed.payload.shape().length

    def elaborate(self, platform):
        m = Module()
        spec, lfsr = self.spec, self.lfsr
        m.submodules.source = src = self.source
        n, width = self.vector_len, lfsr.width
        vec = Signal(src.seed.payload.shape(), init=spec.rng_spec.seed_vector(spec.rng_spec.seed))
        cur = Signal(width)
        left = Signal(range(n + 1))            # lanes still to derive
        load = Signal()                        # the vector is complete: hand it to the chain
        m.d.comb += [self.busy.eq((left != 0) | load), self.seed.ready.eq(~self.busy)]

        with m.If(self.seed.valid & self.seed.ready):
            m.d.sync += [cur.eq(self.seed.payload[:width]), left.eq(n)]
        with m.Elif(left != 0):
            step = gf2_apply(lfsr.jump_matrix, cur)
            # Shift lanes down, the new one enters at the top: after n steps lane 0 is J(seed).
            flat = vec.as_value()
            m.d.sync += [cur.eq(step), left.eq(left - 1), load.eq(left == 1),
                         flat.eq(Cat(flat[width:], step) if n > 1 else step)]
        with m.Else():
            m.d.sync += load.eq(0)

        m.d.comb += [src.seed.payload.eq(vec), self.o.payload.eq(src.o.payload), self.o.valid.eq(src.o.valid),
                     src.o.ready.eq(self.o.ready)]
        if spec.has_pool:
            start_row = Signal(src.start.payload.shape())
            m.d.comb += [self.row.ready.eq(1), src.seed.valid.eq(load),
                         src.start.valid.eq(self.restart), src.start.payload.eq(start_row)]
            with m.If(self.row.valid):
                m.d.sync += start_row.eq(self.row.payload)
            with m.If(load):
                m.d.sync += start_row.eq(0)
        else:
            m.d.comb += src.seed.valid.eq(load | self.restart)
        if spec.has_scale:
            wiring.connect(m, wiring.flipped(self.scale), src.scale)
        return m


class RngUnitSpec:
    """A synthesis handle for the RNG subsystem of an engine spec alone (``KIND``, ``str``, ``create``
    as :func:`zoforge.synth.synthesize` expects); not a registered spec kind."""

    KIND = "engine_rng"

    def __init__(self, engine_spec):
        self.engine = engine_spec

    def __str__(self) -> str:
        return f"engine_rng:{self.engine.rng_spec}"

    def create(self):
        return RngUnit(self.engine)
