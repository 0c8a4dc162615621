"""Record/replay of a board exchange: a replay checks every byte the host sends."""

from __future__ import annotations

import numpy as np
import pytest

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.link import LinkModel, LinkSpec
from zoforge.golden.spec import parse
from zoforge.device.link import FrameLink
from zoforge.device.client import EngineClient
from zoforge.device.fixtures import FixtureMismatch, RecordingTransport, ReplayTransport, read_metadata
from zoforge.device.transports import ModelTransport

SPEC, LINK = parse("engine-s"), LinkSpec()


def session(transport):
    frames = FrameLink(transport, SPEC, LINK, clock_hz=12e6)
    frames.connect()
    client = EngineClient(frames, SPEC)
    client.check_spec()
    client.load(0, np.arange(16).reshape(8, 2))
    client.perturb(1, 8)
    return client.read(0, 8)


def test_record_then_replay(tmp_path):
    path = tmp_path / "exchange.jsonl"
    recorder = RecordingTransport(ModelTransport(LinkModel(EngineModel(SPEC), LINK)), path, source="golden link model")
    recorded = session(recorder)
    recorder.close()
    assert read_metadata(path)["source"] == "golden link model"
    replay = ReplayTransport(path)
    assert np.array_equal(session(replay), recorded)
    assert replay.finished


def test_replay_catches_other_bytes(tmp_path):
    path = tmp_path / "exchange.jsonl"
    recorder = RecordingTransport(ModelTransport(LinkModel(EngineModel(SPEC), LINK)), path)
    FrameLink(recorder, SPEC, LINK, clock_hz=12e6).transact(bytes([P.Op.PING]))
    recorder.close()
    with pytest.raises(FixtureMismatch, match="the host wrote"):
        FrameLink(ReplayTransport(path), SPEC, LINK, clock_hz=12e6).transact(bytes([P.Op.INFO]))
