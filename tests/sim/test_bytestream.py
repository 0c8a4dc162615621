"""The interactive byte-stream driver: bytes cross with random gaps in both directions, the
simulation persists between exchanges, and a missing response raises instead of hanging."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from zoforge.sim.bytestream import ByteStreamSim, StallError


class PlusOne(wiring.Component):
    """Answers every byte b with b+1 through one register; swallows 0xFF (to test stalls)."""

    def __init__(self):
        super().__init__({"cmd": In(stream.Signature(8)), "rsp": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        full = Signal()
        m.d.comb += [self.cmd.ready.eq(~full | self.rsp.ready), self.rsp.valid.eq(full)]
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [self.rsp.payload.eq(self.cmd.payload + 1), full.eq(self.cmd.payload != 0xFF)]
        with m.Elif(self.rsp.ready):
            m.d.sync += full.eq(0)
        return m


@pytest.mark.parametrize("prob", [1.0, 0.3])
def test_exchanges_with_random_gaps_persist_between_calls(prob):
    link = ByteStreamSim(PlusOne(), valid_prob=prob, ready_prob=prob, rng_seed=1)
    assert link.exchange(bytes(range(10)), lambda rx: len(rx) == 10) == bytes(range(1, 11))
    before = link.cycles
    assert link.exchange(b"\x41\x42", lambda rx: len(rx) == 2) == b"\x42\x43"
    assert link.cycles > before


def test_a_missing_response_raises():
    link = ByteStreamSim(PlusOne())
    with pytest.raises(StallError):
        link.exchange(b"\xff", lambda rx: len(rx) == 1, max_cycles=200)
