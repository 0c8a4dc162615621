"""Update-unit gateware (arithmetic in :mod:`zoforge.golden.update`)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.update import UpdateSpec
from .common import join, pipe_stage
from .fixed import fit_value, overflow_counter, round_shift, weights_out_layout
from .lfsr import LFSR

__all__ = ["Update"]


class Update(wiring.Component):
    """``spec.lanes`` weights per cycle: ``w_out = fit(w_in - round(c * z + lambda * w_in))``.

    Members
    -------
    w_in : In(stream.Signature(ArrayLayout(signed(w_bits), lanes)))
    z : In(stream.Signature(ArrayLayout(signed(z_bits), lanes)))
        Transfers together with ``w_in``.
    c : In(signed(c_bits))
        The scalar lr*g, sampled with each ``w_in`` transfer.
    decay_en : In(1, init=1)
        Apply weight decay to this word (sampled like ``c``; no effect when ``decay_mul == 0``).
    w_out : Out(stream.Signature(StructLayout({"w": ArrayLayout(signed(w_bits), lanes), "sat": lanes})))
        Updated weights and per-lane overflow flags.
    sat_count : Out(unsigned(count_bits))
        Overflowed weights transferred on ``w_out`` since reset or ``clear`` (saturates at its top).
    clear : In(1)
        Restart ``sat_count``.
    seed : In(stream.Signature(ArrayLayout(unsigned(rng_width), lanes)))
        LFSR lane states for stochastic rounding, from ``spec.seed_vector(seed)``; accepted only in
        a cycle without a weight transfer, so it applies from the next weight word on. Ignored
        (always ready) by the other rounding modes.

    Two registered stages (products and aligned sum, then rounding and fit): ``latency`` = 2.
    """

    latency = 2

    def __init__(self, spec: UpdateSpec):
        self.spec = spec
        super().__init__({
            "w_in": In(stream.Signature(data.ArrayLayout(signed(spec.w_bits), spec.lanes))),
            "z": In(stream.Signature(data.ArrayLayout(signed(spec.z_bits), spec.lanes))),
            "c": In(signed(spec.c_bits)),
            "decay_en": In(1, init=1),
            "w_out": Out(stream.Signature(weights_out_layout(spec.w_format, spec.lanes))),
            "sat_count": Out(unsigned(spec.count_bits)),
            "clear": In(1),
            "seed": In(stream.Signature(data.ArrayLayout(unsigned(spec.rng_width), spec.lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        lanes, k = spec.lanes, spec.shift

        fields = {"w": data.ArrayLayout(signed(spec.w_bits), lanes),
                  "sum": data.ArrayLayout(signed(spec.sum_bits), lanes)}
        if spec.stochastic:
            fields["rnd"] = data.ArrayLayout(unsigned(k), lanes)
        mid = stream.Signature(data.StructLayout(fields)).create(path=("mid",))
        beat = join(m, self.w_in, self.z)
        accept = beat.valid & beat.ready

        # Stage 1: c*z (one multiplier per lane) plus the decay term, aligned to F fraction bits.
        nxt = Signal(mid.payload.shape())
        for lane in range(lanes):
            w = self.w_in.payload[lane]
            total = (self.c * self.z.payload[lane]) << spec.align_p
            if spec.decay_mul:
                decay = w if spec.decay_mul == 1 else w * Const(spec.decay_mul, unsigned(16))
                total = total + (Mux(self.decay_en, decay, 0) << spec.align_q)
            m.d.comb += [nxt.w[lane].eq(w), nxt.sum[lane].eq(total)]

        if spec.stochastic:
            m.submodules.lfsr = lfsr = LFSR(spec.lfsr)
            # A seed never lands in the cycle of a weight transfer, so "the next word" is well defined.
            m.d.comb += [self.seed.ready.eq(~accept),
                         lfsr.seed.valid.eq(self.seed.valid & ~accept),
                         lfsr.seed.payload.eq(self.seed.payload),
                         lfsr.o.ready.eq(accept)]
            for lane in range(lanes):
                m.d.comb += nxt.rnd[lane].eq(lfsr.o.payload[lane][spec.rng_width - k:])
        else:
            m.d.comb += self.seed.ready.eq(1)
        pipe_stage(m, beat, mid, nxt)

        # Stage 2: one rounding of the sum, subtract, wrap or saturate.
        out = Signal(self.w_out.payload.shape())
        for lane in range(lanes):
            rnd = mid.payload.rnd[lane] if spec.stochastic else None
            u = round_shift(mid.payload.sum[lane], k, spec.rounding, rnd)
            code, sat = fit_value(mid.payload.w[lane] - u, spec.w_format, spec.overflow)
            m.d.comb += [out.w[lane].eq(code), out.sat[lane].eq(sat)]
        pipe_stage(m, mid, self.w_out, out)

        overflow_counter(m, self.sat_count, self.clear, self.w_out, self.w_out.payload.sat)
        return m
