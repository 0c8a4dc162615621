"""The host link driver over the golden board link: damaged traffic in both directions loses no command
and applies none twice; limits and failures give one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.engine_sessions import random_session
from zoforge.golden.link import LinkModel, LinkSpec
from zoforge.golden.spec import parse
from zoforge.device.link import FrameLink, LinkError
from zoforge.device.client import EngineClient, EngineError, SpecMismatch
from zoforge.device.transports import FaultyTransport, ModelTransport

from ..util import HostileTransport, assert_link_equals_golden, single_commands

SPEC = parse("engine-s")
LINK = LinkSpec(divisor=12, cmd_bytes=128, rsp_bytes=128)


def board_link(spec=SPEC, link=LINK, faults: float = 0.0, seed: int = 0, *, built=None, connect=True):
    """The golden board (its link built from ``built``, default ``link``) behind the host driver."""
    board = EngineModel(spec)
    model = LinkModel(board, built or link)
    transport = FaultyTransport(ModelTransport(model), np.random.default_rng(seed), p=faults)
    frames = FrameLink(transport, spec, link, clock_hz=12e6)
    if connect:
        frames.connect()
    return board, model, transport, frames


@pytest.mark.parametrize("seed", range(12))
def test_fuzzed_link_loses_nothing_and_repeats_nothing(seed):
    board, model, transport, frames = board_link(faults=0.3, seed=seed)
    session = single_commands(SPEC, LINK, random_session(SPEC, np.random.default_rng(seed), commands=60, max_words=20))
    golden = assert_link_equals_golden(frames, SPEC, session + [bytes([P.Op.STATUS])])
    assert np.array_equal(board.weights, golden.weights)
    assert board.counters == golden.counters            # the command counter: each executed exactly once
    assert sum(transport.faults.values()) > 10 and frames.stats.resent > 0 and model.counters.retries > 0


def test_client_splits_work_to_fit_frames():
    spec = parse("engine:rng=pezo-pool-x2,words=256,w_bits=16,w_frac=12,a_bits=8,batch=2,max_cols=64,"
                 "eps_shift=6,c_bits=16,c_frac=14,rounding=stochastic")
    link = LinkSpec(cmd_bytes=64, rsp_bytes=64)
    board, _, _, frames = board_link(spec, link)
    small = EngineClient(frames, spec)
    direct = EngineClient(EngineModel(spec), spec)
    rng = np.random.default_rng(3)
    words = rng.integers(-3000, 3000, size=(200, spec.lanes))
    X = rng.integers(-100, 100, size=(13, 40))
    for client in (small, direct):
        client.load(0, words)
        assert np.array_equal(client.read(0, 200), words)
        sums = client.forward(0, 10, X)
    assert np.array_equal(sums, direct.forward(0, 10, X))
    assert np.array_equal(board.weights, direct.link.weights)
    assert frames.stats.frames > 30                     # it really was split


def test_frame_limits_are_checked_before_sending():
    _, _, _, frames = board_link()
    with pytest.raises(ValueError, match="one frame holds at most 125"):
        frames.transact(P.load(SPEC, 0, np.zeros((40, SPEC.lanes))))
    with pytest.raises(ValueError, match="answer .* would have"):
        frames.transact(P.read(SPEC, 0, 40))
    with pytest.raises(ValueError, match="exactly one whole command"):
        frames.transact(P.read(SPEC, 0, 4)[:3])


def test_a_silent_board_fails_in_one_line():
    _, _, transport, frames = board_link()
    transport.p, transport.KINDS = 1.0, ("lose",)
    with pytest.raises(LinkError) as info:
        frames.transact(bytes([P.Op.PING]))
    assert "\n" not in str(info.value) and "after 8 tries" in str(info.value)
    assert frames.stats.timeouts == 8


def test_spec_mismatch_is_refused():
    _, _, _, frames = board_link()
    other = parse("engine-s").replace(eps_shift=5)
    with pytest.raises(SpecMismatch, match="spec hash"):
        EngineClient(frames, other).check_spec()
    EngineClient(frames, SPEC).check_spec()


def test_timeouts_follow_wire_time_and_work():
    _, _, _, frames = board_link()
    short = frames.timeout(bytes([P.Op.PING]))
    long = frames.timeout(P.perturb(SPEC, 1, 512))
    assert 0 < short < long
    assert frames.timeout(P.read(SPEC, 0, 30)) > short + 2 * 120 * 10 / 1e6


@pytest.mark.parametrize("field, value", [("rsp_bytes", 64), ("cmd_bytes", 64)])
def test_a_board_built_with_other_buffers_is_refused_on_connect(field, value):
    """Before: smaller rsp_bytes gave a traceback at the first long answer; smaller cmd_bytes a misleading
    'no valid answer' after 8 tries."""
    with pytest.raises(LinkError) as info:
        board_link(built=LINK.replace(**{field: value}))
    message = str(info.value)
    assert "\n" not in message and f"{field}={value}" in message and f"{field}={getattr(LINK, field)}" in message


def test_malformed_and_error_answers_are_engine_errors():
    """An answer cut by a smaller response buffer is a one-line EngineError (before: a RuntimeError);
    so is an error status, named."""
    _, _, _, frames = board_link(built=LINK.replace(rsp_bytes=64), connect=False)
    client = EngineClient(frames, SPEC)
    with pytest.raises(EngineError) as info:
        client.call(P.read(SPEC, 0, 30))
    assert "\n" not in str(info.value) and "bytes" in str(info.value)
    with pytest.raises(EngineError, match="BAD_ARGUMENT"):
        client.seed(0)
    client.ping()                                         # and the board goes on


def test_the_overflow_flag_is_reported():
    spec = parse("engine-s")
    _, _, _, frames = board_link()
    client = EngineClient(frames, spec)
    big = (1 << (spec.w_bits - 1)) - 1
    client.load(0, np.full((8, spec.lanes), big))
    client.perturb(1, 8)
    assert client.overflow and client.status()["overflow"]
    client.clear()
    assert client.status()["overflow"] is False


def test_the_simulated_board_with_other_buffers_is_refused_in_one_line():
    """The same check against the gateware: a board top built with rsp_bytes=64 in the simulator."""
    from zoforge.boards.registry import get_board
    from zoforge.device.connect import connect, sim_transport
    board = get_board("icebreaker")
    host = LinkSpec(divisor=4, cmd_bytes=128, rsp_bytes=128)
    transport = sim_transport(board, SPEC, host.replace(rsp_bytes=64))
    with pytest.raises(LinkError) as info:
        connect("sim:icebreaker", transport, SPEC, host, board, latency=64 / board.clock_hz)
    assert "\n" not in str(info.value) and "rsp_bytes=64" in str(info.value)


@pytest.mark.parametrize("seed", range(6))
def test_replays_and_cut_frames_between_the_hosts_frames(seed):
    """Older frames replayed and SEEDs cut inside their arguments, written between the host's frames:
    no replay runs, a cut frame that runs is abandoned (weights untouched), and every answer to the
    host equals the golden engine's (STATUS left out: its counters also count the cut frames)."""
    board = EngineModel(SPEC)
    model = LinkModel(board, LINK)
    rng = np.random.default_rng(seed)
    board_side = ModelTransport(model)
    transport = hostile = HostileTransport(FaultyTransport(board_side, rng, p=0.1), board_side, rng, p=0.3)
    frames = FrameLink(transport, SPEC, LINK, clock_hz=12e6)
    frames.connect()
    session = [c for c in single_commands(SPEC, LINK, random_session(SPEC, np.random.default_rng(seed), commands=60,
                                                                     max_words=20)) if c[0] != P.Op.STATUS]
    golden = assert_link_equals_golden(frames, SPEC, session)
    assert np.array_equal(board.weights, golden.weights)
    assert model.counters.frames == len(session) + model.counters.abandoned      # each host command ran once
    assert hostile.injected["replay"] > 3 and model.counters.refused > 3
