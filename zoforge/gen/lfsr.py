"""Parallel LFSR gateware (see :mod:`zoforge.golden.lfsr` for the structure and seeding rules)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.lfsr import LFSRSpec
from .common import gf2_apply

__all__ = ["LFSR"]


class LFSR(wiring.Component):
    """``spec.lanes`` LFSR words per cycle.

    Members
    -------
    o : Out(stream.Signature(ArrayLayout(unsigned(width), lanes), always_valid=True))
        Lane words; the lanes advance by ``spec.step`` single steps on every transfer.
    seed : In(stream.Signature(ArrayLayout(unsigned(width), lanes)))
        Per-lane start states (from :meth:`LFSRSpec.lane_seeds`); a zero word restores that lane's
        reset state. Always ready; takes priority over an output transfer in the same cycle.
    """

    def __init__(self, spec: LFSRSpec):
        self.spec = spec
        lanes = data.ArrayLayout(unsigned(spec.width), spec.lanes)
        super().__init__({
            "o": Out(stream.Signature(lanes, always_valid=True)),
            "seed": In(stream.Signature(lanes)),
        })

    latency = 0

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.d.comb += self.seed.ready.eq(1)
        for lane, reset in enumerate(spec.lane_seeds()):
            state = Signal(spec.width, init=reset, name=f"state{lane}")
            m.d.comb += self.o.payload[lane].eq(state)
            word = self.seed.payload[lane]
            with m.If(self.seed.valid):
                m.d.sync += state.eq(Mux(word == 0, reset, word))
            with m.Elif(self.o.ready):
                m.d.sync += state.eq(gf2_apply(spec.step_matrix, state))
        return m
