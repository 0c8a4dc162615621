"""The link's golden framing: CRC, SLIP, the frame decoder and the board-side model's exactly-once rule."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.lib.crc import catalog
from hypothesis import given, settings
from hypothesis import strategies as st

from zoforge.golden import engine_protocol as P
from zoforge.golden import link as L
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.link import (
    END,
    ESC,
    ESC_END,
    FrameDecoder,
    LinkModel,
    LinkSpec,
    check_frame,
    crc16,
    frame,
    slip_encode,
)
from zoforge.golden.spec import parse

from ..util import assert_spec_error


def test_crc16_is_amaranths_ibm_3740():
    rng = np.random.default_rng(1)
    algorithm = catalog.CRC16_IBM_3740()
    for n in (0, 1, 9, 100):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc16(data) == algorithm.compute(data)
    assert crc16(b"123456789") == 0x29B1        # the catalogue's check value


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.binary(min_size=1, max_size=300))   # a body holds at least an opcode or a status
def test_frame_round_trip(seq, body):
    wire = frame(seq, body)
    assert wire[0] == END and wire[-1] == END and END not in wire[1:-1]
    frames = FrameDecoder().feed(wire)
    assert len(frames) == 1 and check_frame(frames[0]) == (seq, body)


def test_decoder_escapes_limits_and_damage():
    assert slip_encode(bytes([END, ESC])) == bytes([END, ESC, ESC_END, ESC, 0xDD, END])
    d = FrameDecoder(limit=4)
    assert d.feed(bytes([END, END])) == []                       # empty frames are skipped
    assert d.feed(bytes([END, 1, 2, 3, 4, END])) == [bytes([1, 2, 3, 4])]
    assert d.feed(bytes([END, 1, 2, 3, 4, 5, END])) == [None]      # longer than the limit
    assert d.feed(bytes([END, 1, ESC, 7, 2, END])) == [None]        # bad escape
    assert d.feed(bytes([1, ESC, END])) == [None]                   # escape cut by the end of the frame
    assert check_frame(bytes([1, 2, 3])) is None                    # too short
    good = FrameDecoder().feed(frame(3, b"\x00"))[0]
    for bit in range(8 * len(good)):                                # every single-bit error is caught
        bad = bytearray(good)
        bad[bit // 8] ^= 1 << bit % 8
        assert check_frame(bytes(bad)) is None


def test_link_spec_limits():
    spec = LinkSpec(divisor=12, cmd_bytes=256, rsp_bytes=128)
    assert spec.max_command == 253 and spec.max_response == 128 and spec.baud(12e6) == 1e6
    assert parse(str(spec)) == spec
    assert_spec_error("link:cmd_bytes=100", ["cmd_bytes", "100", "power of two"])
    assert_spec_error("link:divisor=3", ["divisor", "3", "[4, 65535]"])
    assert_spec_error("link:rsp_bytes=32768", ["rsp_bytes", "32768"])


def test_model_answers_a_retry_from_its_copy():
    spec = parse("engine-s")
    engine = EngineModel(spec)
    link = LinkModel(engine, LinkSpec())
    perturb = frame(7, P.perturb(spec, 1, 4))
    first = link.feed(perturb)
    assert link.feed(perturb) == first                  # the same frame again: answered, not executed
    assert engine.counters["commands"] == 1 and link.counters.retries == 1
    link.feed(frame(8, P.perturb(spec, 1, 4)))          # a new seq: executed
    assert engine.counters["commands"] == 2
    link.feed(frame(7, P.perturb(spec, 1, 4)))          # seq 7 is older than the last frame: refused
    assert engine.counters["commands"] == 2 and link.counters.refused == 1
    damaged = bytearray(frame(9, bytes([P.Op.PING])))
    damaged[2] ^= 0x10
    assert link.feed(bytes(damaged)) == b"" and link.counters.dropped == 1


def test_model_cuts_responses_at_the_buffer():
    spec = parse("engine-s")
    link = LinkModel(EngineModel(spec), LinkSpec(rsp_bytes=64))
    seq, body = check_frame(FrameDecoder().feed(link.feed(frame(0, P.read(spec, 0, 40))))[0])
    assert len(body) == 64


@pytest.mark.parametrize("text", ["link", "link:divisor=4,cmd_bytes=64,rsp_bytes=16384"])
def test_link_specs_parse(text):
    assert str(parse(str(parse(text)))) == str(parse(text))


# ---- a frame that ends inside a command; replays of older frames; the link's own answer ----

def _answers(wire: bytes) -> list[tuple[int, bytes]]:
    return [check_frame(raw) for raw in FrameDecoder().feed(wire)]


@pytest.mark.parametrize("cut", ["seed", "forward", "load"])
def test_a_frame_ending_inside_a_command_is_abandoned(cut):
    """SEED with 3 of its 8 argument bytes, FORWARD announcing more columns than it carries, LOAD with
    half its data: answered with one TIMEOUT status; nothing applied; the next frames run normally."""
    spec = parse("engine-s")
    engine = EngineModel(spec)
    link = LinkModel(engine, LinkSpec())
    rng = np.random.default_rng(0)
    words = rng.integers(-100, 100, (4, spec.lanes))
    link.feed(frame(0, P.load(spec, 0, words)))
    body = {"seed": P.seed(spec, 12345)[:4],
            "forward": P.forward(spec, 0, 2, rng.integers(-5, 5, (1, 8)))[:-3],
            "load": P.load(spec, 0, -words)[:-4]}[cut]
    assert _answers(link.feed(frame(1, body))) == [(1, bytes([P.Code.TIMEOUT]))]
    assert link.counters.abandoned == 1
    assert np.array_equal(engine.weights[:4], words)                  # weights untouched
    assert _answers(link.feed(frame(2, bytes([P.Op.PING])))) == [(2, bytes([P.Code.OK]))]
    status = P.decode_status(_answers(link.feed(frame(3, bytes([P.Op.STATUS]))))[0][1][1:])
    assert status["commands"] == 4 and status["errors"] == 1


def test_an_older_frame_replayed_after_a_newer_one_is_not_executed():
    """UPDATE seq n, PING seq n+1, UPDATE seq n again: the replay is refused with the link's notice
    (not executed; the engine's counters and weights say so)."""
    spec = parse("engine-s")
    engine = EngineModel(spec)
    link = LinkModel(engine, LinkSpec())
    update = frame(5, P.update(spec, 3, 8))
    link.feed(update)
    weights = engine.weights
    link.feed(frame(6, bytes([P.Op.PING])))
    seq, body = _answers(link.feed(update))[0]
    assert engine.counters["commands"] == 2 and np.array_equal(engine.weights, weights)
    assert seq == 5 and body == L.notice(6, LinkSpec())
    assert link.counters.refused == 1
    for old, op in ((4, P.Op.PING), (200, P.Op.PING), (6, P.Op.STATUS)):   # any seq but the next is refused
        assert _answers(link.feed(frame(old, bytes([op]))))[0][1][0] == L.NOTICE
    assert engine.counters["commands"] == 2
    assert _answers(link.feed(frame(7, bytes([P.Op.PING])))) == [(7, bytes([P.Code.OK]))]


def test_hello_reports_the_last_seq_and_the_buffers():
    spec = parse("engine-s")
    link = LinkModel(EngineModel(spec), LinkSpec(cmd_bytes=256, rsp_bytes=1024))
    assert _answers(link.feed(frame(9, b""))) == [(9, L.notice(0, link.spec))]
    link.feed(frame(40, bytes([P.Op.PING])))                     # after reset any seq opens the session
    seq, body = _answers(link.feed(frame(0, b"")))[0]
    assert L.decode_notice(body) == {"last_seq": 40, "cmd_bytes": 256, "rsp_bytes": 1024}
    assert link.engine.counters["commands"] == 1


def test_watchdog_parameter():
    assert LinkSpec().watchdog == 1024 and parse("link:watchdog=64").watchdog == 64
    assert_spec_error("link:watchdog=8", ["watchdog", "8"])
