"""Sign gateware: one leap-forward LFSR, its tap bits split into lanes (see :mod:`zoforge.golden.sign`)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.sign import SignSpec
from .common import gf2_apply
from .lfsr import LFSR

__all__ = ["Sign"]


class Sign(wiring.Component):
    """``spec.lanes`` sign codes (``+-2**(bits-2)``, or 0 when sparse) per cycle.

    Members
    -------
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes), always_valid=True))
        Equal to ``spec.golden(count)`` word for word; the LFSR advances on every transfer.
    seed : In(stream.Signature(ArrayLayout(unsigned(width), 1)))
        ``spec.seed_vector(seed)`` (one LFSR state); always ready. The next word out is word 0 of
        ``spec.golden(count, seed=seed)``.
    """

    latency = 0

    def __init__(self, spec: SignSpec):
        self.spec = spec
        self._lfsr = LFSR(spec.lfsr)
        super().__init__({
            "o": Out(stream.Signature(data.ArrayLayout(signed(spec.bits), spec.lanes), always_valid=True)),
            "seed": In(stream.Signature(data.ArrayLayout(unsigned(spec.width), 1))),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.lfsr = lfsr = self._lfsr
        wiring.connect(m, wiring.flipped(self.seed), lfsr.seed)
        m.d.comb += lfsr.o.ready.eq(self.o.ready)
        # The cycle's random bits: what the LFSR shifts out during its `step` single steps (wires for
        # Fibonacci, a few XORs for Galois).
        taps = gf2_apply(spec.tap_matrix, lfsr.o.payload[0])
        group, code = 1 + spec.sparse, spec.code
        for lane in range(spec.lanes):
            bits = taps[lane * group:(lane + 1) * group]
            value = Mux(bits[0], -code, code)
            # Constants only: the code's top two bits are (sign & non-zero, non-zero), the rest zero.
            m.d.comb += self.o.payload[lane].eq(Mux(bits[1:].all(), value, 0) if spec.sparse else value)
        return m
