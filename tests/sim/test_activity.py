"""Toggle counting from a VCD: exact counts for a counter, layout views and wired copies counted once,
memory rows kept apart."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from zoforge.sim.activity import vcd_activity


def test_counter_views_copies_and_memory_rows(tmp_path):
    m = Module()
    count = Signal(5)
    copy = Signal(5)
    pair = Signal(data.ArrayLayout(unsigned(5), 2))
    m.d.sync += count.eq(count + 1)
    m.d.comb += [copy.eq(count), pair.eq(count.replicate(2))]
    m.submodules.mem = mem = Memory(shape=unsigned(5), depth=2, init=[])
    wp = mem.write_port()
    m.d.comb += [wp.addr.eq(count[0]), wp.data.eq(count), wp.en.eq(1)]
    sim = Simulator(m)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await ctx.tick().repeat(40)

    sim.add_testbench(bench)
    vcd = tmp_path / "t.vcd"
    with sim.write_vcd(str(vcd)):
        sim.run()
    nets, cycles = vcd_activity(vcd, [2, 34])
    assert cycles == [32]
    counter = [n for n in nets if any(name.endswith(".count") for name in n.names)]
    assert len(counter) == 1 and counter[0].toggles == [62]      # 32 increments of a mod-32 counter
    assert any(name.endswith(".copy") for name in counter[0].names)
    assert not any(name.endswith("pair[0]") for n in nets for name in n.names)
    rows = [n for n in nets if n.memory]
    assert len(rows) == 2 and all(n.toggles[0] > 0 for n in rows)
