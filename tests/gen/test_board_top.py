# amaranth: UnusedElaboratable=no
"""The board top through its pins: UART frames in, UART frames out, equal to the golden LinkModel's
wire bytes (INFO, LOAD, READ, a retry, a damaged frame that gets no answer, STATUS) at divisor 4,
INFO at the iCEBreaker's divisor 12; the LEDs show heartbeat, executed, busy and dropped."""

import numpy as np
import pytest

from zoforge.gen.board_top import BoardTop
from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.engine_protocol import Op
from zoforge.golden.link import END, LinkModel, LinkSpec, frame
from zoforge.golden.spec import parse
from zoforge.sim.board_sim import BoardSim


def read_frame(board: BoardSim, max_cycles: int) -> bytes:
    """One answer frame (END ... END), or b"" when nothing starts within ``max_cycles``."""
    opening = board.read_until(END, max_cycles)
    if not opening:
        return b""
    assert opening == bytes([END])
    return opening + board.read_until(END, max_cycles)


class Pins:
    """A board top behind BoardSim next to the golden link."""

    def __init__(self, engine_spec, divisor, clock_hz=12_000_000):
        link = LinkSpec(divisor=divisor, cmd_bytes=512, rsp_bytes=512)
        self.top = BoardTop(engine_spec, link, clock_hz)
        self.board = BoardSim(self.top, divisor)
        self.model = LinkModel(EngineModel(engine_spec), link)
        self.byte_cycles = 10 * divisor

    def send(self, wire: bytes) -> bytes:
        expected = self.model.feed(wire)
        self.board.write(wire)
        # the request, the longest command's run and the answer fit in this many character times
        got = read_frame(self.board, (len(wire) + len(expected) + 50) * self.byte_cycles)
        assert got == expected
        return got


def test_commands_through_the_pins_equal_golden():
    spec = parse("engine-s")
    pins = Pins(spec, divisor=4)
    weights = np.random.default_rng(5).integers(-3000, 3000, size=(6, spec.lanes))
    info = pins.send(frame(1, bytes([Op.INFO])))
    assert info[2] == 0 and len(info) >= 4 + len(P.info_payload(spec))
    pins.send(frame(2, P.load(spec, 3, weights)))
    read = frame(3, P.read(spec, 3, 6))
    first = pins.send(read)
    assert pins.send(read) == first                          # a retry: the kept answer
    damaged = bytearray(frame(4, bytes([Op.STATUS])))
    damaged[2] ^= 0x10
    assert pins.send(bytes(damaged)) == b""                  # dropped: no answer
    status = pins.send(frame(4, bytes([Op.STATUS])))
    assert status[3] == 4                                    # INFO, LOAD, READ, STATUS: the retry did not run
    assert pins.board.framing_errors == 0
    assert pins.model.counters.retries == 1 and pins.model.counters.dropped == 1


def test_info_at_divisor_12():
    pins = Pins(parse("engine-s"), divisor=12)
    pins.send(frame(0x42, bytes([Op.INFO])))


def test_leds_show_heartbeat_executed_busy_dropped():
    clock_hz = 4000                                            # heartbeat every 4000 cycles, events 200 cycles
    pins = Pins(parse("engine:rng=pezo-pool-x2,words=64,max_cols=16"), divisor=4, clock_hz=clock_hz)
    rises = {led: 0 for led in range(4)}

    async def watch(ctx):
        old = 0
        async for (leds,) in ctx.changed(pins.top.leds):
            for led in range(4):
                rises[led] += (leds >> led & 1) and not (old >> led & 1)
            old = leds
    pins.board.sim.add_testbench(watch, background=True)
    for seq in range(3):
        pins.send(frame(seq, bytes([Op.PING])))
        pins.board.run(400)                                    # let the executed LED go dark again
    assert pins.send(bytes([END, 9, 9, END])) == b""           # too short: dropped
    pins.board.run(12_000 - pins.board.cycles % 4000)
    beats = pins.board.cycles // clock_hz
    assert rises == {0: pytest.approx(beats / 2, abs=1), 1: 3, 2: 3, 3: 1}
