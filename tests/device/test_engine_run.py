"""`zoforge train --device golden`: the engine's own network trains; GPT-2 options are refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoforge.device.run import load_weights

from ..host.cli_util import run


def test_training_in_the_golden_engine(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--device", "golden", "--steps", "60", "-o", tmp_path, "--no-progress")
    assert code == 0, err
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["kind"] == "eval"]
    assert evals[-1]["loss"] < 0.7 * evals[0]["loss"]
    codes, meta = load_weights(tmp_path / "weights.safetensors")
    assert codes.shape == (9, 2) and meta["device"] == "golden" and meta["engine"].startswith("engine:")
    assert np.abs(codes).max() > 0
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"      # the plot the run promises
    assert f"plot {tmp_path / 'loss.png'}" in out
    # the same options give the same bits
    code, _, _ = run(capsys, "train", "--device", "golden", "--steps", "60", "-o", tmp_path / "again",
                     "--no-progress")
    assert np.array_equal(load_weights(tmp_path / "again" / "weights.safetensors")[0], codes)


@pytest.mark.parametrize("argv, words", [
    (["--model", "tiny"], ["--model", "does not apply"]),
    (["--optimizer", "adamw"], ["--optimizer=adamw", "pezo"]),
    (["--engine", "pezo"], ["--engine", "engine spec"]),
    (["--engine", "engine:words=7"], ["need 9 weight words", "has 7"]),
    (["--link", "link"], ["--link", "golden"]),
    (["--hidden", "4,x"], ["--hidden", "4,x"]),
    (["--hidden", "200"], ["200 inputs", "max_cols"]),
])
def test_bad_device_options(capsys, tmp_path, argv, words):
    code, _, err = run(capsys, "train", "--device", "golden", "-o", tmp_path, "--no-progress", *argv)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("device", ["nope", "sim:nope", "sim:", "ulx3s"])
def test_bad_devices(capsys, device):
    code, _, err = run(capsys, "train", "--device", device)
    assert code == 2 and err.count("\n") == 1 and "device" in err


def test_engine_options_need_a_device(capsys):
    code, _, err = run(capsys, "train", "--engine", "engine-s")
    assert code == 2 and "--engine applies with --device" in err
