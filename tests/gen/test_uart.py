# amaranth: UnusedElaboratable=no
"""UART gateware: Tx -> Rx loopback carries random bytes with random gaps at divisors 4, 5 and 12;
the transmitter's line equals a bit-level reference cycle for cycle (back to back bytes take exactly
10 bit times); the receiver tolerates a sender clock a few percent off, ignores glitches and flags
framing errors and overruns with a one-cycle pulse."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from zoforge.gen.uart import UartRx, UartTx
from zoforge.sim.bytestream import ByteStreamSim


class Loopback(wiring.Component):
    """UartTx's line into UartRx; ``errors`` counts the receiver's error pulses."""

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8)), "errors": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = UartTx(self.divisor)
        m.submodules.rx = rx = UartRx(self.divisor)
        wiring.connect(m, wiring.flipped(self.i), tx.i)
        wiring.connect(m, rx.o, wiring.flipped(self.o))
        m.d.comb += rx.rx.eq(tx.tx)
        with m.If(rx.error):
            m.d.sync += self.errors.eq(self.errors + 1)
        return m


def frame_bits(byte: int) -> list[int]:
    """8N1, LSB first: start, data, stop."""
    return [0] + [(byte >> k) & 1 for k in range(8)] + [1]


def reference_line(sent: list[tuple[int, int]], divisor: int, cycles: int) -> np.ndarray:
    """The line in each cycle when byte b is taken in cycle t for every (t, b) of ``sent``."""
    line = np.ones(cycles, dtype=np.int64)
    end = -1
    for t, b in sent:
        assert t >= end, f"byte taken in cycle {t} while the previous frame lasts until {end}"
        bits = np.repeat(frame_bits(b), divisor)
        stop = min(cycles, t + 1 + len(bits))
        line[t + 1:stop] = bits[:stop - t - 1]
        end = t + len(bits)
    return line


@pytest.mark.parametrize("divisor", [4, 5, 12])
@pytest.mark.parametrize("gaps", [1.0, 0.03])
def test_loopback_carries_random_bytes(divisor, gaps):
    rng = np.random.default_rng(divisor)
    data = bytes(rng.integers(0, 256, size=120, dtype=np.uint8))
    dut = Loopback(divisor)
    link = ByteStreamSim(dut, sink="i", source="o", valid_prob=gaps, ready_prob=0.5, rng_seed=divisor)
    errors = []

    async def watch(ctx):
        async for (count,) in ctx.changed(dut.errors):
            if count:
                errors.append(count)
    link.sim.add_testbench(watch, background=True)
    assert link.exchange(data, lambda rx: len(rx) >= len(data), max_cycles=len(data) * 40 * divisor) == data
    link.run(20 * divisor)
    assert errors == [] and link.pending == 0
    if gaps == 1.0:                          # back to back: 10 bit times per byte, plus the last frame's tail
        assert link.cycles <= len(data) * 10 * divisor + 20 * divisor + 10


@pytest.mark.parametrize("divisor", [4, 12])
def test_tx_line_equals_bit_level_reference(divisor):
    rng = np.random.default_rng(3)
    dut = UartTx(divisor)
    cycles = 3000
    sent, line = [], []

    async def bench(ctx):
        offered = None
        for cycle in range(cycles):
            if offered is None and rng.random() < 0.1:
                offered = int(rng.integers(0, 256))
            ctx.set(dut.i.valid, offered is not None)
            ctx.set(dut.i.payload, offered or 0)
            _, _, ready, tx = await ctx.tick().sample(dut.i.ready, dut.tx)
            line.append(tx)
            if offered is not None and ready:
                sent.append((cycle, offered))
                offered = None

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert len(sent) > cycles // (12 * divisor)
    assert np.array_equal(np.array(line), reference_line(sent, divisor, cycles))


def drive_rx(divisor, pieces, *, ready=True):
    """Run a UartRx whose pin follows ``pieces`` (a list of (level, cycles)); returns the received
    bytes and the cycles of the error pulses. ``ready`` is the output's ready."""
    dut = UartRx(divisor)
    got, errors = [], []
    total = sum(n for _, n in pieces) + 4 * divisor

    async def pin(ctx):
        for level, n in pieces:
            ctx.set(dut.rx, level)
            await ctx.tick().repeat(n)
        ctx.set(dut.rx, 1)

    async def sink(ctx):
        ctx.set(dut.o.ready, ready)
        for cycle in range(total):
            _, _, valid, payload, error = await ctx.tick().sample(dut.o.valid, dut.o.payload, dut.error)
            if valid and ready:
                got.append(payload)
            if error:
                errors.append(cycle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(pin, background=True)
    sim.add_testbench(sink)
    sim.run()
    return bytes(got), errors


def byte_pieces(byte, bit_cycles, *, stop=1, idle=0):
    """The line for one frame with each bit ``bit_cycles`` long (a float: a sender clock that differs
    from ours), then ``idle`` cycles high."""
    bits = frame_bits(byte)[:-1] + [stop]
    edges = [round(k * bit_cycles) for k in range(len(bits) + 1)]
    out = [(b, edges[k + 1] - edges[k]) for k, b in enumerate(bits)]
    return out + ([(1, idle)] if idle else [])


@pytest.mark.parametrize("divisor, skew", [(5, 1.0), (12, 0.97), (12, 1.03)])
def test_rx_takes_a_sender_a_few_percent_off(divisor, skew):
    data = bytes(np.random.default_rng(7).integers(0, 256, size=24, dtype=np.uint8))
    pieces = [(1, 10)] + [p for b in data for p in byte_pieces(b, divisor * skew)]
    assert drive_rx(divisor, pieces) == (data, [])


@pytest.mark.parametrize("divisor", [4, 12])
def test_rx_ignores_glitches_and_flags_framing_errors(divisor):
    glitch = [(0, divisor // 2 - 1), (1, 3 * divisor)]
    broken = byte_pieces(0x5A, divisor, stop=0) + [(0, 3 * divisor), (1, 2 * divisor)]   # stop bit low: a break
    pieces = [(1, 10)] + glitch + byte_pieces(0x31, divisor) + broken + byte_pieces(0xA5, divisor, idle=divisor)
    got, errors = drive_rx(divisor, pieces)
    assert got == b"\x31\xa5"
    assert len(errors) == 1
    # the pulse comes at the middle of the broken frame's stop bit (+ synchroniser and register)
    stop_mid = 10 + sum(n for _, n in glitch + byte_pieces(0x31, divisor)) + 9 * divisor + divisor // 2
    assert abs(errors[0] - stop_mid) <= 4


def test_rx_flags_an_overrun_and_keeps_the_first_byte():
    divisor = 4
    pieces = [(1, 10)] + byte_pieces(0x11, divisor) + byte_pieces(0x22, divisor) + [(1, 10)]
    dut = UartRx(divisor)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        for level, n in pieces:
            ctx.set(dut.rx, level)
            for _ in range(n):
                _, _, error = await ctx.tick().sample(dut.error)
                seen["errors"] = seen.get("errors", 0) + error
        seen["held"] = (ctx.get(dut.o.valid), ctx.get(dut.o.payload))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"errors": 1, "held": (1, 0x11)}


@pytest.mark.parametrize("divisor", [3, 4.5])
def test_divisor_is_checked(divisor):
    with pytest.raises(ValueError, match="divisor"):
        UartTx(divisor)
