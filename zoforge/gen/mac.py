"""MAC-array gateware (arrangement and numerics in :mod:`zoforge.golden.mac`)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.mac import MacSpec
from .common import join, pipe_stage

__all__ = ["Mac"]


def tree_sum(values):
    """Balanced adder tree (shallower than a chain: shorter paths, same result)."""
    values = list(values)
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


class Mac(wiring.Component):
    """``spec.rows`` x ``spec.lanes`` multipliers, one accumulator per row.

    Members
    -------
    row : In(stream.Signature(ArrayLayout(ArrayLayout(signed(row_bits), lanes), rows)))
        The per-row operand: ``lanes`` values for each row and beat.
    bcast : In(stream.Signature(StructLayout({"v": ArrayLayout(signed(bcast_bits), lanes), "last": 1})))
        The broadcast operand: ``lanes`` values shared by every row; ``last`` ends the reduction.
        Transfers with ``row``.
    o : Out(stream.Signature(ArrayLayout(signed(acc_bits), rows)))
        One word per reduction: the ``rows`` sums.

    Stage 1 registers the products (the registered multiply that DSP blocks absorb); stage 2 adds
    each row's products into its accumulator and, on ``last``, moves the sums to ``o``. A ``last``
    beat waits while ``o`` holds an untaken word; other beats never stall. ``latency`` = 2.
    """

    latency = 2

    def __init__(self, spec: MacSpec):
        self.spec = spec
        super().__init__({
            "row": In(stream.Signature(data.ArrayLayout(data.ArrayLayout(signed(spec.row_bits), spec.lanes),
                                                        spec.rows))),
            "bcast": In(stream.Signature(data.StructLayout({
                "v": data.ArrayLayout(signed(spec.bcast_bits), spec.lanes), "last": 1}))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(spec.acc_bits), spec.rows))),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        rows, lanes = spec.rows, spec.lanes

        prod_layout = data.StructLayout({
            "p": data.ArrayLayout(data.ArrayLayout(signed(spec.row_bits + spec.bcast_bits), lanes), rows),
            "last": 1,
        })
        prod = stream.Signature(prod_layout).create(path=("prod",))
        nxt = Signal(prod_layout)
        for r in range(rows):
            for lane in range(lanes):
                m.d.comb += nxt.p[r][lane].eq(self.row.payload[r][lane] * self.bcast.payload.v[lane])
        m.d.comb += nxt.last.eq(self.bcast.payload.last)
        pipe_stage(m, join(m, self.row, self.bcast), prod, nxt)

        take = prod.valid & prod.ready
        m.d.comb += prod.ready.eq(~prod.payload.last | ~self.o.valid | self.o.ready)
        for r in range(rows):
            acc = Signal(signed(spec.acc_bits), name=f"acc{r}")
            total = acc + tree_sum(prod.payload.p[r][lane] for lane in range(lanes))
            with m.If(take):
                with m.If(prod.payload.last):
                    m.d.sync += [self.o.payload[r].eq(total), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(total)
        with m.If(take & prod.payload.last):
            m.d.sync += self.o.valid.eq(1)
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
