"""Hardware in the loop, simulated: `zoforge train --device sim:icebreaker` trains through the board top
(UART pins, link, engine) in Amaranth's simulator, and ends with exactly the golden engine's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoforge.device.run import load_weights

from ..host.cli_util import run

ARGS = ["--steps", "10", "--batch", "8", "--eval-interval", "5", "--no-progress"]


def evals(path):
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "eval"]


@pytest.mark.slow
@pytest.mark.xdist_group("board-sim")
def test_simulated_board_trains_like_the_golden_engine(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--device", "sim:icebreaker", *ARGS, "-o", tmp_path / "sim")
    assert code == 0, err
    assert "link" in out and "frames" in out
    code, _, err = run(capsys, "train", "--device", "golden", *ARGS, "-o", tmp_path / "golden")
    assert code == 0, err
    sim, sim_meta = load_weights(tmp_path / "sim" / "weights.safetensors")
    golden, golden_meta = load_weights(tmp_path / "golden" / "weights.safetensors")
    assert sim_meta["engine"] == golden_meta["engine"] and sim_meta["device"] == "sim:icebreaker"
    assert np.array_equal(sim, golden)
    assert evals(tmp_path / "sim") == evals(tmp_path / "golden")          # every loss, bit for bit
    first, last = evals(tmp_path / "sim")[0], evals(tmp_path / "sim")[-1]
    assert last["loss"] < 0.9 * first["loss"]     # 10 steps: it learns (longer runs: board_training.md)
