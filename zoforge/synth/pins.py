"""A synthesis-only top that fits any block into a handful of package pins, for place and route.

A block's ports are hundreds of bits wide (``o__payload`` alone is lanes x bits), far more than a
QFN-48 iCE40 has pins, and an unconstrained top-level port would also leave its logic untimed. So
every input bit comes from a serial-in shift register fed by one pin, and every output bit goes
through a register into a fully pipelined XOR tree ending in one pin. Nothing can be optimised
away (each bit stays observable and controllable), every block path starts and ends at a flip-flop,
and the wrapper's own paths are one LUT deep, so Fmax is the block's.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Elaboratable, Module, Signal

from ..gen.builtin_yosys import convert_verilog
from ..gen.emit import PortWrapper

__all__ = ["PinWrapper", "pin_verilog"]

_FANIN = 4      # XOR inputs per tree node: one LUT4 per node on every family


class PinWrapper(Elaboratable):
    """Top with ports ``clk``, ``rst``, ``sin``, ``sout`` around a component."""

    def __init__(self, component):
        self.block = PortWrapper(component)
        self.sin = Signal()
        self.sout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = self.block
        ins = [sig for _, d, sig, _ in block.members if d == "in"]
        outs = [sig for _, d, sig, _ in block.members if d == "out"]

        width = sum(len(s) for s in ins)
        if width:
            chain = Signal(width)
            m.d.sync += chain.eq(Cat(self.sin, chain[:-1]) if width > 1 else self.sin)
            at = 0
            for s in ins:
                m.d.comb += s.eq(chain[at:at + len(s)])
                at += len(s)

        level = Signal(sum(len(s) for s in outs))
        m.d.sync += level.eq(Cat(*outs))
        while len(level) > 1:
            nodes = [level[i:i + _FANIN].xor() for i in range(0, len(level), _FANIN)]
            nxt = Signal(len(nodes))
            m.d.sync += nxt.eq(Cat(*nodes))
            level = nxt
        m.d.comb += self.sout.eq(level)
        return m


def pin_verilog(spec, top: str = "fmax_top") -> str:
    """Verilog of :class:`PinWrapper` around ``spec.create()``."""
    w = PinWrapper(spec.create())
    return convert_verilog(w, name=top, ports=[w.sin, w.sout], emit_src=False)
