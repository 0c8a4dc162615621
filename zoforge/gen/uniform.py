"""Uniform-number gateware: LFSR lanes, top bits read as signed codes."""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.uniform import UniformSpec
from .lfsr import LFSR

__all__ = ["Uniform"]


class Uniform(wiring.Component):
    """``spec.lanes`` signed uniforms per cycle (see :mod:`zoforge.golden.uniform`).

    Members
    -------
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes), always_valid=True))
    seed : In(stream.Signature(ArrayLayout(unsigned(width), lanes)))
        Per-lane LFSR states, from ``spec.seed_vector(seed)``.
    """

    latency = 0

    def __init__(self, spec: UniformSpec):
        self.spec = spec
        self._lfsr = LFSR(spec.lfsr)
        super().__init__({
            "o": Out(stream.Signature(data.ArrayLayout(signed(spec.bits), spec.lanes), always_valid=True)),
            "seed": In(self._lfsr.seed.signature.flip().members["payload"].shape and
                       stream.Signature(self._lfsr.seed.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.lfsr = lfsr = self._lfsr
        wiring.connect(m, wiring.flipped(self.seed), lfsr.seed)
        m.d.comb += lfsr.o.ready.eq(self.o.ready)
        for lane in range(spec.lanes):
            m.d.comb += self.o.payload[lane].eq(lfsr.o.payload[lane][spec.width - spec.bits:])
        return m
