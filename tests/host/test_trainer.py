"""The training loop: loss falls for every optimizer, exact resume, NaN stop, Ctrl-C save."""

import json
import os
import signal

import numpy as np
import pytest

from zoforge.golden.queries import query_position
from zoforge.golden.spec import parse
from zoforge.host.checkpoint import load_hf
from zoforge.metrics import read_metrics
from zoforge.host.options import OptionError, TrainOptions
from zoforge.host.runstate import latest_checkpoint, load_checkpoint
from zoforge.host.trainer import Trainer, TrainingError

LR = {"adamw": 3e-3, "mezo": 1e-3, "pezo": 1e-3}


def options(out, optimizer="pezo", **kw):
    base = dict(model="tiny", task="synthetic", optimizer=optimizer, lr=LR[optimizer], steps=8, batch=8, seq=48,
                eval_interval=4, eval_batches=2, out=str(out), progress=False, threads=1)
    base.update(kw)
    return TrainOptions(**base)


def quiet(*_):
    pass


@pytest.mark.parametrize("optimizer", ["adamw", "mezo", "pezo"])
def test_loss_falls(tmp_path, optimizer):
    steps = 30 if optimizer == "adamw" else 60
    result = Trainer(options(tmp_path, optimizer, steps=steps, batch=16, eval_interval=0), log=quiet).run()
    first, last = result.evals[0]["loss"], result.evals[-1]["loss"]
    assert result.step == steps and last < first - (2.0 if optimizer == "adamw" else 0.3), (first, last)
    assert (tmp_path / "loss.png").stat().st_size > 1000
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, steps + 1))


def _interrupt_at(step):
    def hook(trainer, done):
        if done == step:
            raise KeyboardInterrupt
    return hook


@pytest.mark.parametrize("optimizer,extra", [("adamw", {"weight_decay": 0.1, "grad_clip": 1.0}),
                                             ("mezo", {"queries": 2, "weight_decay": 0.01}),
                                             ("pezo", {"perturb": "pezo:reuse=pool,pool=1000,lanes=8,scale=norm",
                                                       "pool_refresh": 3}),
                                             ("pezo", {"perturb": "pezo:reuse=pool,pool=1000,lanes=8,"
                                                                   "scale=fold,refresh=2", "queries": 2}),
                                             ("pezo", {"perturb": "pezo-rotate", "lr_schedule": "cosine", "warmup": 2})])
def test_resume_is_bit_identical(tmp_path, optimizer, extra):
    whole = Trainer(options(tmp_path / "whole", optimizer, checkpoint_interval=3, **extra), log=quiet).run()
    with pytest.raises(KeyboardInterrupt):
        Trainer(options(tmp_path / "cut", optimizer, checkpoint_interval=3, **extra), log=quiet,
                after_step=_interrupt_at(5)).run()
    saved = latest_checkpoint(tmp_path / "cut")
    state = json.loads((saved / "state.json").read_text())
    assert saved.name == "step-00000005" and state["step"] == 5
    if "next_start" in state.get("perturbation", {}):      # a pool: the next SEED/START, for the hardware
        p = state["perturbation"]
        assert p["refresh"] == parse(p["spec"]).refresh > 0
        assert [p["next_pool_seed"], p["next_start"]] == list(
            query_position(parse(p["spec"]), 5 * extra.get("queries", 1), p["stream_length"], 0))
    resumed = Trainer.resume(tmp_path / "cut", log=quiet).run()
    assert resumed.step == whole.step == 8
    _, a, _, arrays_a = load_checkpoint(whole.checkpoint)
    _, b, _, arrays_b = load_checkpoint(resumed.checkpoint)
    assert np.array_equal(a.data, b.data)
    assert arrays_a.keys() == arrays_b.keys() and all(np.array_equal(arrays_a[k], arrays_b[k]) for k in arrays_a)

    def losses(run):
        return [(r["kind"], r["step"], r["loss"]) for r in read_metrics(tmp_path / run / "metrics.jsonl")
                if r["kind"] in ("train", "eval")]
    assert losses("whole") == losses("cut")


def test_resume_refuses_trajectory_changes_and_fresh_runs_refuse_old_directories(tmp_path):
    Trainer(options(tmp_path, steps=2), log=quiet).run()
    with pytest.raises(OptionError, match="--lr=0.5 differs from the saved run's 0.001"):
        Trainer.resume(tmp_path, lr=0.5)
    with pytest.raises(OptionError, match="already holds a run"):
        Trainer(options(tmp_path, steps=2), log=quiet)
    assert Trainer.resume(tmp_path, steps=3, log=quiet).run().step == 3
    with pytest.raises(OptionError, match="no checkpoint"):
        Trainer.resume(tmp_path / "empty")


@pytest.mark.parametrize("optimizer", ["adamw", "pezo"])
def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, optimizer):
    trainer = Trainer(options(tmp_path, optimizer, checkpoint_interval=2, steps=10), log=quiet)
    calls = {"n": 0}
    forward = trainer.model.forward_backward if optimizer == "adamw" else trainer.model.forward

    def poisoned(*a, **k):
        calls["n"] += 1
        return float("nan") if trainer.step >= 3 else forward(*a, **k)
    setattr(trainer.model, "forward_backward" if optimizer == "adamw" else "forward", poisoned)
    with pytest.raises(TrainingError, match=r"stopped at step 4: .*nan.*kept .*step-00000002 \(step 2\)"):
        trainer.run()
    assert latest_checkpoint(tmp_path).name == "step-00000002"
    assert read_metrics(tmp_path / "metrics.jsonl")[-1]["kind"] == "stop"


def test_ctrl_c_between_steps_saves_then_exits(tmp_path):
    before = signal.getsignal(signal.SIGINT)      # CI may start us with SIGINT ignored
    def press_ctrl_c(trainer, done):
        if done == 3:
            os.kill(os.getpid(), signal.SIGINT)      # the handler only sets a flag; the loop sees it next
    with pytest.raises(KeyboardInterrupt):
        Trainer(options(tmp_path, steps=10), log=quiet, after_step=press_ctrl_c).run()
    assert latest_checkpoint(tmp_path).name == "step-00000003"
    assert signal.getsignal(signal.SIGINT) is before                          # handler restored
    assert Trainer.resume(tmp_path, log=quiet).run().step == 10


def test_interrupt_inside_a_zo_step_keeps_the_previous_checkpoint(tmp_path):
    trainer = Trainer(options(tmp_path, steps=10, checkpoint_interval=2), log=quiet)
    forward = trainer.model.forward

    def interrupted(*a, **k):
        if trainer.step == 5:
            raise KeyboardInterrupt                  # e.g. a second Ctrl-C while the weights are perturbed
        return forward(*a, **k)
    trainer.model.forward = interrupted
    messages = []
    trainer.log = messages.append
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert latest_checkpoint(tmp_path).name == "step-00000004"
    assert "mid-update" in messages[-1]
    config, params = load_hf(latest_checkpoint(tmp_path))
    assert np.isfinite(params.data).all()


def test_the_run_records_what_made_it(tmp_path):
    Trainer(options(tmp_path, steps=2, eval_interval=0), log=quiet).run()
    start = next(r for r in read_metrics(tmp_path / "metrics.jsonl") if r["kind"] == "start")
    assert {"python", "zoforge", "numpy"} <= set(start["versions"]) and start["options"]["steps"] == 2
