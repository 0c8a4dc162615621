"""Hardware tests in the Glasgow style: with ``ZOFORGE_BOARD`` set to a device (``icebreaker:/dev/ttyUSB1``,
or ``sim:icebreaker`` for the simulated board) they run against it, and with ``ZOFORGE_RECORD=1`` they
also record the exchange to ``fixtures/<test>.jsonl``. Without a device they replay that file: the host
must send exactly the recorded bytes, and the recorded answers must equal the golden engine's.

The fixtures in the repository were recorded from ``sim:icebreaker`` (no board is attached where they
were made; their first line says so). Re-record them on a board with
``ZOFORGE_BOARD=icebreaker:/dev/ttyUSB1 ZOFORGE_RECORD=1 pytest tests/boards/test_hardware.py``.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

from zoforge.device.client import EngineClient
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.spec import parse

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def board_client(name: str):
    """(client, finish) for the attached device, or for the replay of its fixture."""
    fixture = FIXTURES / f"{name}.jsonl"
    device = os.environ.get("ZOFORGE_BOARD")
    if device:
        from zoforge.device.connect import open_device
        record = str(fixture) if os.environ.get("ZOFORGE_RECORD") == "1" else None
        opened = open_device(device, record=record)
        return opened.client, opened.close
    if not fixture.exists():
        pytest.skip(f"no board (set ZOFORGE_BOARD) and no fixture {fixture.name}")
    from zoforge.device.connect import connect, link_latency, parse_device
    from zoforge.device.fixtures import ReplayTransport, read_metadata
    from zoforge.golden.link import LinkSpec
    meta = read_metadata(fixture)
    replay = ReplayTransport(fixture)
    spec, link = parse(meta["engine"]), parse(meta["link"])
    assert isinstance(link, LinkSpec)
    kind, board, _ = parse_device(meta["device"])
    client = connect(meta["device"], replay, spec, link, board, latency=link_latency(kind, board)).client

    def finish():
        assert replay.finished, f"the host made {replay.at} of the {len(replay.calls)} recorded calls"
    return client, finish


def test_hw_mezo_step(request):
    """One MeZO step on the board: load, seed, +1/-2/+1 perturbations around two forwards, update, read
    back; every answer equals the golden engine's."""
    client, finish = board_client(request.node.name)
    spec = client.spec
    golden = EngineClient(EngineModel(spec), spec)
    rng = np.random.default_rng(7)
    words = rng.integers(-2000, 2000, size=(24, spec.lanes))
    X = rng.integers(-60, 60, size=(3, 16))
    for c in (client, golden):
        c.load(0, words)
        c.seed(12345)
    for s in (1, -2, 1):
        for c in (client, golden):
            c.perturb(s, 24)
        assert np.array_equal(client.forward(0, 3, X), golden.forward(0, 3, X))
    for c in (client, golden):
        c.update(-321, 24)
    assert np.array_equal(client.read(0, 24), golden.read(0, 24))
    status = client.status()
    assert status["errors"] == 0 and status["commands"] >= 10
    finish()
