"""Checkpoints under damage, misuse and signals: nothing loaded silently, nothing lost, one line each."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.host.cli_util import run
from tests.host.test_trainer import options, quiet
from zoforge.host.checkpoint import CheckpointError
from zoforge.host.runstate import latest_checkpoint, load_checkpoint
from zoforge.host.trainer import Trainer, TrainingError

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = ["--model", "tiny", "--seq", "48", "--batch", "4", "--no-progress", "--threads", "1", "--task", "synthetic",
        "--eval-batches", "1"]


def trained(tmp_path, name="run", steps=2, **kw):
    out = tmp_path / name
    Trainer(options(out, steps=steps, eval_batches=1, **kw), log=quiet).run()
    return out, latest_checkpoint(out)


def one_line(code, err):
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_flipped_bit_in_the_weights_is_refused_by_eval_sample_and_resume(tmp_path, capsys):
    out, ckpt = trained(tmp_path)
    weights = ckpt / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-5] ^= 0x10
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="model.safetensors.*SHA-256"):
        load_checkpoint(ckpt)
    for argv in (["eval", "--init", out, "--task", "synthetic", "--seq", "48"],
                 ["sample", "--init", out, "--tokens", "2"],
                 ["sample", "--init", ckpt, "--tokens", "2"],
                 ["train", "--out", out, "--resume", "--steps", "3", "--no-progress"]):
        code, _, err = run(capsys, *argv)
        assert "model.safetensors" in one_line(code, err)


def test_weights_from_another_run_are_refused(tmp_path):
    _, mine = trained(tmp_path, "a")
    _, other = trained(tmp_path, "b", seed=5)
    shutil.copy(other / "model.safetensors", mine / "model.safetensors")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(mine)


def test_state_json_is_checked(tmp_path, capsys):
    out, ckpt = trained(tmp_path)
    state = json.loads((ckpt / "state.json").read_text())
    for bad in ({**state, "step": 1_000_000}, {**state, "options": {**state["options"], "optimizer": "adamw"}}):
        (ckpt / "state.json").write_text(json.dumps(bad))
        code, _, err = run(capsys, "train", "--out", out, "--resume", "--steps", "3", "--no-progress")
        assert "state.json" in one_line(code, err)
    (ckpt / "state.json").write_text("{not json")
    code, _, err = run(capsys, "train", "--out", out, "--resume", "--steps", "3", "--no-progress")
    assert "state.json" in one_line(code, err)


def test_state_json_schema_even_with_a_matching_manifest(tmp_path):
    from zoforge.host.runstate import check_state
    _, ckpt = trained(tmp_path)
    state = json.loads((ckpt / "state.json").read_text())
    check_state(state, ckpt / "state.json", step=2)
    for key, value in (("step", 1_000_000), ("step", -1), ("step", "2"), ("options", []), ("optimizer", None),
                       ("format", "other"), ("run", 7)):
        with pytest.raises(CheckpointError, match=f"state.json.*{key}"):
            check_state({**state, key: value}, ckpt / "state.json", step=2)


def test_a_missing_optimizer_file_is_one_line(tmp_path, capsys):
    out, ckpt = trained(tmp_path, optimizer="adamw")
    (ckpt / "optimizer.safetensors").unlink()
    code, _, err = run(capsys, "train", "--out", out, "--resume", "--steps", "3", "--no-progress")
    assert "optimizer.safetensors" in one_line(code, err)


@pytest.mark.parametrize("keep", [1, 2])
def test_non_finite_weights_are_never_saved(tmp_path, keep):
    trainer = Trainer(options(tmp_path, steps=6, checkpoint_interval=2, keep=keep, eval_batches=1,
                              eval_interval=0), log=quiet)

    def poison(t, done):
        if done == 3:        # a weight goes bad while the loss stays finite: a padded vocabulary row, never read
            cfg = t.model.params.config
            assert cfg.padded_vocab_size > cfg.vocab_size
            t.model.params.data[cfg.vocab_size * cfg.n_embd] = np.inf
    trainer.after_step = poison
    with pytest.raises(TrainingError, match="non-finite"):
        trainer.run()
    assert latest_checkpoint(tmp_path).name == "step-00000002"
    _, params, _, _ = load_checkpoint(latest_checkpoint(tmp_path))
    assert np.isfinite(params.data).all()


def test_keep_k_checkpoints(tmp_path):
    trained(tmp_path, steps=6, checkpoint_interval=1)
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["latest", "step-00000005", "step-00000006"]                 # default --keep 2
    trained(tmp_path, "three", steps=6, checkpoint_interval=1, keep=3)
    assert len(list((tmp_path / "three" / "checkpoints").glob("step-*"))) == 3


@pytest.mark.parametrize("remove", ["latest", "state.json", "manifest.json"])
def test_a_new_run_never_deletes_a_checkpoint(tmp_path, capsys, remove):
    out, ckpt = trained(tmp_path)
    (out / "checkpoints" / "latest" if remove == "latest" else ckpt / remove).unlink(missing_ok=True)
    before = sorted(str(p) for p in out.rglob("*") if p.is_file() and p.suffix != ".png" and p.suffix != ".jsonl")
    code, _, err = run(capsys, "train", *TINY, "--steps", "1", "-o", out)
    assert "already holds" in one_line(code, err)
    after = sorted(str(p) for p in out.rglob("*") if p.is_file() and p.suffix != ".png" and p.suffix != ".jsonl")
    assert before == after


def test_half_written_folders_are_cleaned_and_never_trusted(tmp_path):
    out, ckpt = trained(tmp_path, steps=2)
    half = out / "checkpoints" / ".partial-step-00000009"
    shutil.copytree(ckpt, half)
    (half / "model.safetensors").write_bytes(b"garbage")
    assert latest_checkpoint(out) == ckpt
    assert Trainer.resume(out, steps=3, log=quiet).run().step == 3
    assert not half.exists()


def test_resume_names_the_difference_and_override_allows_it(tmp_path, capsys):
    out, _ = trained(tmp_path, steps=2)
    code, _, err = run(capsys, "train", "--out", out, "--resume", "--steps", "3", "--lr", "0.5", "--no-progress")
    assert "--lr=0.5 differs" in one_line(code, err) and "--resume-override" in err
    code, text, err = run(capsys, "train", "--out", out, "--resume", "--resume-override", "--steps", "3",
                          "--lr", "0.5", "--no-progress")
    assert code == 0 and "done: 3 steps" in text, err
    assert json.loads((latest_checkpoint(out) / "state.json").read_text())["options"]["lr"] == 0.5


def test_a_second_writer_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = run(capsys, "train", *TINY, "--steps", "1", "-o", out)
        assert "in use" in one_line(code, err)
        assert not (out / "metrics.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run(capsys, "train", *TINY, "--steps", "1", "-o", out)          # the lock went with it
    assert code == 0, err


LOCK_HOLDER = """
import sys, time
from zoforge.runlock import lock_folder
lock = lock_folder(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def test_train_device_never_overwrites_weights(tmp_path, capsys):
    out = tmp_path / "engine"
    out.mkdir()
    (out / "weights.safetensors").write_bytes(b"earlier run")
    code, _, err = run(capsys, "train", "--device", "golden", "--steps", "1", "--no-progress", "-o", out)
    assert "weights.safetensors" in one_line(code, err)
    assert (out / "weights.safetensors").read_bytes() == b"earlier run"


# ---- real signals in a subprocess ------------------------------------------------------------------

SIGNALLED = """
import os, signal, sys
from zoforge.host import runstate, trainer
from zoforge.host.options import TrainOptions
out, mode = sys.argv[1], sys.argv[2]
save = runstate.save_checkpoint
def slow_save(*a, **k):
    if mode == "twice":
        os.kill(os.getpid(), signal.SIGINT)     # a second Ctrl-C lands inside the save
    return save(*a, **k)
trainer.save_checkpoint = slow_save
def after(t, done):
    if done == 2:
        print("step 2", flush=True)
        if mode == "twice":
            os.kill(os.getpid(), signal.SIGINT)
    if done == 2 and mode == "term":
        os.kill(os.getppid(), signal.SIGUSR1)   # tell the test to send SIGTERM now
        import time; time.sleep(0.5)
opts = TrainOptions(model="tiny", task="synthetic", steps=10_000, batch=4, seq=48, eval_interval=0,
                    eval_batches=1, out=out, progress=False, threads=1, lr=1e-3)
try:
    trainer.Trainer(opts, after_step=after, log=print).run()
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize("mode", ["twice", "term"])
def test_signals_finish_the_save(tmp_path, mode):
    out = tmp_path / "run"
    ready = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: ready.append(1))
    try:
        child = subprocess.Popen([sys.executable, "-c", SIGNALLED, str(out), mode], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if mode == "term":
            deadline = time.monotonic() + 120
            while not ready and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.05)
            child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=180)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert child.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and int(ckpt.name.split("-")[1]) >= 2, stdout
    load_checkpoint(ckpt)                                   # verifies
    assert Trainer.resume(out, steps=int(ckpt.name.split("-")[1]) + 1, log=quiet).run().step > 2
