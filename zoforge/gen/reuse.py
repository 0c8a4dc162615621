"""Random-number-reuse gateware: the pool memory and the rotating generator bank.

Index maps, pitfalls and the golden model: :mod:`zoforge.golden.reuse`, :mod:`zoforge.golden.pezo`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.pezo import PezoSpec

__all__ = ["PoolReuse", "RotateReuse"]


def _codes(spec: PezoSpec, lanes: int) -> data.ArrayLayout:
    return data.ArrayLayout(signed(spec.bits), lanes)


class PoolReuse(wiring.Component):
    """P = ``spec.pool`` numbers in memory (``spec.rows`` rows of ``lanes`` codes), read cyclically.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Uniform rows; taken only while filling (the first ``rows`` rows after reset or ``restart``).
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Rows start, start+1, ... modulo ``rows``; nothing while filling. The memory's read register
        is the stage register (its enable is the stage's advance), so this is a registered stage.
    restart : In(1)
        Refill (a seed transfer): flushes the word in flight and reads from row 0 once full.
    start : In(stream.Signature(unsigned(row_bits)))
        Always ready: flushes the word in flight and continues at row ``payload mod rows`` (a
        payload below 2**row_bits < 2*rows needs at most one subtraction).
    """

    def __init__(self, spec: PezoSpec):
        self.spec = spec
        super().__init__({
            "i": In(stream.Signature(_codes(spec, spec.lanes))),
            "o": Out(stream.Signature(_codes(spec, spec.lanes))),
            "restart": In(1),
            "start": In(stream.Signature(unsigned(spec.row_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        rows = self.spec.rows
        m.submodules.pool = pool = Memory(shape=_codes(self.spec, self.spec.lanes), depth=rows, init=[])
        write, read = pool.write_port(), pool.read_port(domain="sync")
        filling = Signal(init=1)
        waddr = Signal(range(rows))
        raddr = Signal(range(rows))      # the next row to read
        valid = Signal()
        last_row = lambda a: a == rows - 1
        # Fill: one uniform row per cycle.
        m.d.comb += [self.i.ready.eq(filling), write.addr.eq(waddr), write.data.eq(self.i.payload),
                     write.en.eq(filling & self.i.valid)]
        with m.If(filling & self.i.valid):
            m.d.sync += waddr.eq(Mux(last_row(waddr), 0, waddr + 1))
            with m.If(last_row(waddr)):
                m.d.sync += filling.eq(0)
        # Read: advance when the stage register is empty or being emptied. (Drive en explicitly: a
        # read port's en resets to 1.)
        advance = ~filling & (~valid | self.o.ready)
        m.d.comb += [read.addr.eq(raddr), read.en.eq(advance),
                     self.o.valid.eq(valid), self.o.payload.eq(read.data)]
        with m.If(advance):
            m.d.sync += [valid.eq(1), raddr.eq(Mux(last_row(raddr), 0, raddr + 1))]
        with m.Elif(self.o.ready):
            m.d.sync += valid.eq(0)
        with m.If(self.restart):
            m.d.sync += [filling.eq(1), waddr.eq(0), raddr.eq(0), valid.eq(0)]
        m.d.comb += self.start.ready.eq(1)
        with m.If(self.start.valid):
            row = self.start.payload
            m.d.sync += [raddr.eq(Mux(row >= rows, row - rows, row)), valid.eq(0)]
        return m


class RotateReuse(wiring.Component):
    """``gens`` generated numbers held for ``hold`` transfers; the lane order rotates every transfer:
    lane j of transfer t is ``G[t // hold][(j + t) mod gens]``.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(bits), gens)))
        Generated vectors G; one is taken every ``hold`` output transfers.
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Registered G through a barrel rotator (log2(gens) stages of 2:1 multiplexers) driven by the
        rotation counter; lane j takes rotated element j mod gens.
    restart : In(1)
        Flushes the held vector and restarts the transfer count (a seed transfer).
    """

    def __init__(self, spec: PezoSpec):
        self.spec = spec
        super().__init__({
            "i": In(stream.Signature(_codes(spec, spec.gens))),
            "o": Out(stream.Signature(_codes(spec, spec.lanes))),
            "restart": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        gens, hold = spec.gens, spec.hold
        held = Signal(_codes(spec, gens))
        valid = Signal()
        count = Signal(range(max(hold, 2)))      # transfers of the held vector so far
        rot = Signal(range(max(gens, 2)))        # t mod gens
        m.d.comb += self.o.valid.eq(valid)
        rotated = _barrel_rotate([held[k] for k in range(gens)], rot)
        for lane in range(spec.lanes):
            m.d.comb += self.o.payload[lane].eq(rotated[lane % gens])
        done = self.o.valid & self.o.ready
        with m.If(done):
            m.d.sync += [rot.eq(Mux(rot == gens - 1, 0, rot + 1)),
                         count.eq(Mux(count == hold - 1, 0, count + 1))]
        take = ~valid | (done & (count == hold - 1))
        m.d.comb += self.i.ready.eq(take)
        with m.If(take):
            m.d.sync += [held.eq(self.i.payload), valid.eq(self.i.valid)]
        with m.If(self.restart):
            m.d.sync += [valid.eq(0), count.eq(0), rot.eq(0)]
        return m


def _barrel_rotate(values: list, amount) -> list:
    """``out[k] = values[(k + amount) mod n]`` for a runtime ``amount < n``, as log2(n) stages of 2:1
    multiplexers: rotating by the set bits of ``amount`` one after the other (rotations compose for
    any n). Much smaller than one n:1 multiplexer per lane."""
    n = len(values)
    for b in range(max(1, (n - 1).bit_length())):
        step = (1 << b) % n
        values = [Mux(amount[b], values[(k + step) % n], values[k]) for k in range(n)]
    return values
