"""The whole link under fire: the host driver talks to the board top in simulation (UART pins, link
gateware, engine) through a transport that flips bits, truncates, loses and duplicates traffic in both
directions. Every answer, the final weights and the engine's command counter equal the golden engine's:
no command lost, none applied twice."""

from __future__ import annotations

import numpy as np
import pytest

from zoforge.device.link import FrameLink
from zoforge.device.transports import FaultyTransport, SimTransport
from zoforge.gen.board_top import BoardTop
from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_sessions import random_session
from zoforge.golden.link import LinkSpec
from zoforge.golden.spec import parse
from zoforge.sim.board_sim import BoardSim

from ..util import HostileTransport, assert_link_equals_golden, single_commands

CLOCK = 12e6


@pytest.mark.slow
@pytest.mark.xdist_group("board-sim")
@pytest.mark.parametrize("seed", [0, 1])
def test_fuzzed_board_link_loses_nothing_and_repeats_nothing(seed):
    spec = parse("engine-s")
    link = LinkSpec(divisor=4, cmd_bytes=128, rsp_bytes=128)
    sim = BoardSim(BoardTop(spec, link, clock_hz=int(CLOCK)), link.divisor)
    transport = FaultyTransport(SimTransport(sim, CLOCK), np.random.default_rng(seed), p=0.2)
    frames = FrameLink(transport, spec, link, clock_hz=CLOCK, latency=64 / CLOCK)
    frames.connect()
    entries = random_session(spec, np.random.default_rng(100 + seed), commands=30, max_words=16)
    commands = single_commands(spec, link, entries)
    assert_link_equals_golden(frames, spec, commands + [P.read(spec, 0, 16), bytes([P.Op.STATUS])])
    assert sum(transport.faults.values()) >= 5 and frames.stats.resent >= 3
    assert sim.framing_errors == 0


@pytest.mark.slow
@pytest.mark.xdist_group("board-sim")
def test_replays_and_cut_frames_never_run_twice_nor_hang_the_board():
    """Older frames replayed and frames that end inside a command, written between the host's frames,
    on top of the damage: nothing runs twice, a cut frame is abandoned by the watchdog, the board
    needs no reset, and every answer to the host equals the golden engine's."""
    spec = parse("engine-s")
    link = LinkSpec(divisor=4, cmd_bytes=128, rsp_bytes=128, watchdog=256)
    sim = BoardSim(BoardTop(spec, link, clock_hz=int(CLOCK)), link.divisor)
    rng = np.random.default_rng(8)
    board_side = SimTransport(sim, CLOCK)
    transport = hostile = HostileTransport(FaultyTransport(board_side, rng, p=0.1), board_side, rng, p=0.3,
                                           drain=2000 / CLOCK)
    frames = FrameLink(transport, spec, link, clock_hz=CLOCK, latency=64 / CLOCK)
    frames.connect()
    entries = random_session(spec, np.random.default_rng(107), commands=30, max_words=16)
    commands = [c for c in single_commands(spec, link, entries) if c[0] != P.Op.STATUS]
    assert_link_equals_golden(frames, spec, commands + [P.read(spec, 0, 16)])
    assert hostile.injected["replay"] >= 3 and hostile.injected["cut"] >= 3 and frames.stats.notices >= 1
