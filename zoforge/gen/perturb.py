"""Perturbation-unit gateware (arithmetic in :mod:`zoforge.golden.perturb`)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.perturb import PerturbSpec
from .common import join, pipe_stage
from .fixed import fit_value, overflow_counter, round_shift, weights_out_layout

__all__ = ["Perturb"]


class Perturb(wiring.Component):
    """``spec.lanes`` weights per cycle: ``w_out = fit(w_in + s * round(eps * z))``.

    Members
    -------
    w_in : In(stream.Signature(ArrayLayout(signed(w_bits), lanes)))
        Weight codes.
    z : In(stream.Signature(ArrayLayout(signed(z_bits), lanes)))
        Perturbation codes; one word per ``w_in`` word (the two streams transfer together).
    s : In(signed(2))
        Scale, sampled with each ``w_in`` transfer: 1 (+eps), -2 (-2 eps), -1 (-eps), 0 (pass).
    w_out : Out(stream.Signature(StructLayout({"w": ArrayLayout(signed(w_bits), lanes), "sat": lanes})))
        Perturbed weights and, per lane, whether that weight overflowed (saturated or wrapped).
    sat_count : Out(unsigned(count_bits))
        Overflowed weights transferred on ``w_out`` since reset or ``clear`` (saturates at its top).
    clear : In(1)
        Restart ``sat_count``.

    Two registered stages (delta, then sum and fit): ``latency`` = 2, one word per cycle.
    """

    latency = 2

    def __init__(self, spec: PerturbSpec):
        self.spec = spec
        super().__init__({
            "w_in": In(stream.Signature(data.ArrayLayout(signed(spec.w_bits), spec.lanes))),
            "z": In(stream.Signature(data.ArrayLayout(signed(spec.z_bits), spec.lanes))),
            "s": In(signed(2)),
            "w_out": Out(stream.Signature(weights_out_layout(spec.w_format, spec.lanes))),
            "sat_count": Out(unsigned(spec.count_bits)),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        lanes = spec.lanes

        # Stage 1: d = round(eps_mul * z >> shift); eps_mul == 1 needs no multiplier.
        mid_layout = data.StructLayout({
            "w": data.ArrayLayout(signed(spec.w_bits), lanes),
            "d": data.ArrayLayout(signed(spec.delta_bits), lanes),
            "s": signed(2),
        })
        mid = stream.Signature(mid_layout).create(path=("mid",))
        nxt = Signal(mid_layout)
        for lane in range(lanes):
            z = self.z.payload[lane]
            scaled = z if spec.eps_mul == 1 else z * Const(spec.eps_mul, unsigned(spec.eps_mul.bit_length()))
            m.d.comb += [nxt.w[lane].eq(self.w_in.payload[lane]),
                         nxt.d[lane].eq(round_shift(scaled, spec.shift, spec.rounding))]
        m.d.comb += nxt.s.eq(self.s)
        pipe_stage(m, join(m, self.w_in, self.z), mid, nxt)

        # Stage 2: w + s*d by selecting d, -d, -2d or 0 (no multiplier), then wrap or saturate.
        out = Signal(self.w_out.payload.shape())
        s = mid.payload.s
        for lane in range(lanes):
            d = mid.payload.d[lane]
            sd = Mux(s[1], Mux(s[0], -d, -(d << 1)), Mux(s[0], d, 0))
            code, sat = fit_value(mid.payload.w[lane] + sd, spec.w_format, spec.overflow)
            m.d.comb += [out.w[lane].eq(code), out.sat[lane].eq(sat)]
        pipe_stage(m, mid, self.w_out, out)

        overflow_counter(m, self.sat_count, self.clear, self.w_out, self.w_out.payload.sat)
        return m
