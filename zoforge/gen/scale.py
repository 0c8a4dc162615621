"""Scaling-stage gateware: ``z = (u*q + 2**sfrac) >> (sfrac+1)`` per lane, as shift-and-add.

See :mod:`zoforge.golden.scale` for the formats and the no-overflow proof. There is no ``*`` here: a
constant q (scale=none|sqrt3|fold; fold's per-tensor factor lives in the host's scalars) adds one
shifted copy of u per canonical-signed-digit term; a runtime q (scale=norm) gates one shifted copy of
u per bit of q into an adder tree.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.pezo import PezoSpec
from ..golden.scale import csd

__all__ = ["Scale", "adder_tree", "scaled"]


def adder_tree(terms):
    """Sum of Amaranth values as a balanced tree of two-input adders (log depth)."""
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


def scaled(u, sfrac: int, *, q_const: int | None = None, q=None):
    """``(u*q + 2**sfrac) >> (sfrac+1)`` for one signed lane value ``u``; q is either the constant
    ``q_const`` (CSD terms) or the unsigned runtime value ``q`` (one gated term per bit)."""
    if q_const is not None:
        terms = [(u << shift) if sign > 0 else -(u << shift) for shift, sign in csd(q_const)]
    else:
        terms = [Mux(q[k], u << k, 0) for k in range(len(q))]
    return (adder_tree(terms) + (1 << sfrac)) >> (sfrac + 1)


class Scale(wiring.Component):
    """Registered scaling stage (throughput one word per cycle, back-pressure aware).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Uniform codes (Q0.(bits-1)) from the reuse stage.
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Perturbation codes (sQ1.(bits-2)).
    flush : In(1)
        Drops the word held in the stage (a seed or start transfer upstream).
    scale : In(stream.Signature(unsigned(sfrac+1)))    (scale=norm only)
        A new q; always ready. It applies to every word transferred on ``o`` after the cycle of the
        transfer, including the word already held here (re-scaled from its kept input), so the host
        knows exactly which element the new factor starts at. Reset value ``spec.reset_scale``;
        a seed transfer keeps it. q = 0 outputs zeros (the golden model only accepts q >= 1).
    """

    def __init__(self, spec: PezoSpec):
        self.spec = spec
        codes = data.ArrayLayout(signed(spec.bits), spec.lanes)
        members = {"i": In(stream.Signature(codes)), "o": Out(stream.Signature(codes)), "flush": In(1)}
        if spec.scale == "norm":
            members["scale"] = In(stream.Signature(unsigned(spec.sfrac + 1)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        spec, i, o = self.spec, self.i, self.o
        if spec.scale != "norm":
            m.d.comb += i.ready.eq(~o.valid | o.ready)
            with m.If(i.valid & i.ready):
                m.d.sync += o.valid.eq(1)
                for lane in range(spec.lanes):
                    m.d.sync += o.payload[lane].eq(scaled(i.payload[lane], spec.sfrac, q_const=spec.q))
            with m.Elif(o.ready):
                m.d.sync += o.valid.eq(0)
        else:
            q = Signal(spec.sfrac + 1, init=spec.reset_scale)
            held = Signal(data.ArrayLayout(signed(spec.bits), spec.lanes))   # input of the held word
            change = self.scale.valid
            m.d.comb += [self.scale.ready.eq(1), i.ready.eq((~o.valid | o.ready) & ~change)]
            # One multiplier per lane: a new q re-scales the held word, otherwise the input is scaled.
            factor = Mux(change, self.scale.payload, q)
            products = [scaled(Mux(change, held[lane], i.payload[lane]), spec.sfrac, q=factor)
                        for lane in range(spec.lanes)]
            load = change | (i.valid & i.ready)
            with m.If(load):
                m.d.sync += [o.payload[lane].eq(products[lane]) for lane in range(spec.lanes)]
            with m.If(change):
                m.d.sync += q.eq(self.scale.payload)
                with m.If(o.ready):
                    m.d.sync += o.valid.eq(0)
            with m.Elif(i.valid & i.ready):
                m.d.sync += [o.valid.eq(1), held.eq(i.payload)]
            with m.Elif(o.ready):
                m.d.sync += o.valid.eq(0)
        with m.If(self.flush):
            m.d.sync += o.valid.eq(0)
        return m
