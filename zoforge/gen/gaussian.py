"""Gaussian approximator gateware, CLT or ICDF (see :mod:`zoforge.golden.gaussian` for the maths).

Both methods are a :class:`~zoforge.gen.uniform.Uniform` source followed by registered stream
stages (:func:`~zoforge.gen.common.pipe_stage`), so back-pressure on ``o`` stalls the whole pipe and
the uniform source only advances when its word is taken.

* clt:  uniform -> S (sum of n codes per lane) -> o (scale by K, round, shift).       latency 2
* icdf: uniform -> A (sign, leading zeros, x) -> B (ROM address, f) -> C (ROM word, sign, f)
        -> o (c0 - d1*f, shift, sign).                                                latency 4
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.gaussian import GaussianSpec
from .common import pipe_stage
from .uniform import Uniform

__all__ = ["Gaussian"]

ROM_PORTS = 2        # read ports of one block RAM (true dual-port)


class Gaussian(wiring.Component):
    """``spec.lanes`` approximately N(0, 1) numbers per cycle in Q3.(bits-4).

    Members
    -------
    o : Out(stream.Signature(ArrayLayout(signed(bits), lanes)))
        Equals ``spec.golden(count)`` word for word, whatever the back-pressure.
    seed : In(stream.Signature(ArrayLayout(unsigned(width), uniform lanes)))
        ``spec.seed_vector(seed)``; always ready. A transfer reloads the uniform source and drops
        every word in flight, so the next words out are ``spec.golden(count, seed=seed)``.
    latency : int
        Cycles from reset (or a seed transfer) to the first valid word on ``o``.
    """

    def __init__(self, spec: GaussianSpec):
        self.spec = spec
        self.latency = 2 if spec.method == "clt" else 4
        self._uniform = Uniform(spec.uniform)
        super().__init__({
            "o": Out(stream.Signature(data.ArrayLayout(signed(spec.bits), spec.lanes))),
            "seed": In(stream.Signature(self._uniform.seed.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.uniform = uniform = self._uniform
        wiring.connect(m, wiring.flipped(self.seed), uniform.seed)
        stages = self._clt(m, uniform.o) if self.spec.method == "clt" else self._icdf(m, uniform.o)
        # Flush: placed after the stages so that it overrides their valid updates.
        with m.If(self.seed.valid):
            m.d.sync += [stage.valid.eq(0) for stage in stages + [self.o]]
        return m

    def _stage(self, name: str, elem, lanes: int):
        return stream.Signature(data.ArrayLayout(elem, lanes)).create(path=(name,))

    def _clt(self, m: Module, u) -> list:
        spec = self.spec
        k, sh = spec.clt_scale
        s = self._stage("sum", signed(spec.uniform_bits + (spec.n - 1).bit_length()), spec.lanes)
        sums = [sum(u.payload[lane * spec.n + t] for t in range(spec.n)) for lane in range(spec.lanes)]
        pipe_stage(m, u, s, _cat(sums, s.payload.shape().elem_shape))
        # code = (T*K + 2**(sh-1)) >> sh with T = 2S + n, i.e. (S*2K + n*K + 2**(sh-1)) >> sh.
        scaled = [(s.payload[lane] * Const(2 * k) + Const(spec.n * k + (1 << (sh - 1)))) >> sh
                  for lane in range(spec.lanes)]
        pipe_stage(m, s, self.o, _cat(scaled, signed(spec.bits)))
        return [s]

    def _icdf(self, m: Module, u) -> list:
        spec, table = self.spec, self.spec.table
        mb, sb, low, fb = table.m, table.sb, table.low, table.fb
        lanes = spec.lanes
        a = self._stage("a", data.StructLayout({"x": unsigned(mb), "lz": range(mb + 1), "sign": 1}), lanes)
        b = self._stage("b", data.StructLayout({"f": unsigned(fb), "addr": range(table.depth), "sign": 1}), lanes)
        c = self._stage("c", data.StructLayout({"f": unsigned(fb), "sign": 1}), lanes)

        a_next = Signal.like(a.payload, name="a_next")
        for lane in range(lanes):
            word = u.payload[lane]
            lz = Signal(range(mb + 1), name=f"lz{lane}")
            m.d.comb += lz.eq(mb)
            for i in range(mb):          # priority encoder: the highest set bit wins
                with m.If(word[i]):
                    m.d.comb += lz.eq(mb - 1 - i)
            m.d.comb += [a_next[lane].x.eq(word[:mb]), a_next[lane].lz.eq(lz), a_next[lane].sign.eq(word[mb])]
        pipe_stage(m, u, a, a_next)

        b_next = Signal.like(b.payload, name="b_next")
        for lane in range(lanes):
            xn = (a.payload[lane].x << a.payload[lane].lz)[:mb]          # leading one at bit mb-1
            m.d.comb += [b_next[lane].f.eq(xn[low - fb:low]),
                         b_next[lane].addr.eq((a.payload[lane].lz << sb) | xn[low:low + sb]),
                         b_next[lane].sign.eq(a.payload[lane].sign)]
        pipe_stage(m, a, b, b_next)

        w0, w1 = max(1, int(table.c0.max()).bit_length()), max(1, int(table.d1.max()).bit_length())
        rom_shape = data.StructLayout({"c0": unsigned(w0), "d1": unsigned(w1)})
        rom_init = [{"c0": int(c0), "d1": int(d1)} for c0, d1 in zip(table.c0, table.d1)]
        c_next = Signal.like(c.payload, name="c_next")
        words = []
        for lane in range(lanes):
            # One ROM copy per pair of lanes: a block RAM has two read ports, and a single memory
            # with `lanes` read ports would be built from logic instead.
            if lane % ROM_PORTS == 0:
                rom = Memory(shape=rom_shape, depth=table.depth, init=rom_init)
                m.submodules[f"rom{lane // ROM_PORTS}"] = rom
            port = rom.read_port(domain="sync")
            # The read port is stage C's register for the ROM word: it loads exactly when C does.
            m.d.comb += [port.addr.eq(b.payload[lane].addr), port.en.eq(b.valid & b.ready),
                         c_next[lane].f.eq(b.payload[lane].f), c_next[lane].sign.eq(b.payload[lane].sign)]
            words.append(port.data)
        pipe_stage(m, b, c, c_next)

        codes = []
        for lane in range(lanes):
            mag = (words[lane].c0 - words[lane].d1 * c.payload[lane].f) >> table.guard
            codes.append(Mux(c.payload[lane].sign, -mag, mag))
        pipe_stage(m, c, self.o, _cat(codes, signed(spec.bits)))
        return [a, b, c]


def _cat(values, elem):
    """Lane values packed as an ArrayLayout payload, each truncated to ``elem``'s width."""
    return Cat(*(v[:elem.width] for v in values))
