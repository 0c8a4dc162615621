"""``zoforge train --device ...``: zeroth-order training of a small network that lives in an engine
(golden model, simulated board or real board), by engine commands only (:class:`ZOTrainer`).

The run directory gets ``metrics.jsonl`` (one line per step, evaluations with ``"kind": "eval"``) and
``weights.safetensors``: the engine's weight memory read back over the link (``engine.words``, int32
codes, words x lanes) with the engine spec, the layer sizes and the device in its metadata. Runs on
two devices from the same options end with identical weight codes when both engines compute the same
bits. On Ctrl-C the weights are read back and saved before exiting.

Members: :class:`EngineRunOptions`, :func:`run_engine_training` -> summary dict, :func:`save_weights`,
:func:`load_weights`.
"""

from __future__ import annotations

import json
import pathlib
import time
from dataclasses import dataclass, field

import numpy as np

from .. import atomic
from ..errors import OutputError
from ..runlock import lock_folder
from .trainer import ZOConfig, ZOTrainer, make_task
from ..metrics import MetricsLog
from ..progress import Progress

__all__ = ["EngineRunOptions", "run_engine_training", "save_weights", "load_weights", "WEIGHTS"]

WEIGHTS = "weights.safetensors"


@dataclass
class EngineRunOptions:
    steps: int = 60
    lr: float = 0.1
    batch: int = 16
    hidden: list[int] = field(default_factory=list)
    features: int = 4
    classes: int = 3
    train_samples: int = 256
    eval_samples: int = 64
    eval_interval: int = 20
    seed: int = 0
    out: str = "runs/engine"
    progress: bool = True


def save_weights(path, client, words: int, metadata: dict) -> np.ndarray:
    from safetensors.numpy import save
    codes = client.read(0, words).astype(np.int32)
    atomic.write_bytes(path, save({"engine.words": codes}, metadata={k: str(v) for k, v in metadata.items()}))
    return codes


def load_weights(path) -> tuple[np.ndarray, dict]:
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        return f.get_tensor("engine.words"), dict(f.metadata() or {})


def run_engine_training(device, opts: EngineRunOptions) -> dict:
    """Train; the run folder is locked while it runs, and an earlier run's weights are never replaced."""
    with lock_folder(opts.out):
        weights = pathlib.Path(opts.out) / WEIGHTS
        if weights.exists() or weights.is_symlink():
            raise OutputError(f"{weights} exists (an earlier run's engine weights); not overwritten")
        return _run(device, opts)


def _run(device, opts: EngineRunOptions) -> dict:
    client = device.client
    out = pathlib.Path(opts.out)
    task = make_task(opts.features, opts.classes, train=opts.train_samples, test=opts.eval_samples,
                     seed=opts.seed)
    config = ZOConfig(steps=opts.steps, lr=opts.lr, batch=opts.batch, hidden=list(opts.hidden), seed=opts.seed)
    trainer = ZOTrainer(client, task, config)
    Xe, ye = task.X_train[:opts.eval_samples], task.y_train[:opts.eval_samples]
    metadata = {"engine": str(client.spec), "sizes": json.dumps(trainer.net.sizes), "device": device.name,
                "w_frac": client.spec.w_frac}
    log = MetricsLog(out / "metrics.jsonl")
    bar = Progress(opts.steps, enabled=opts.progress, label=f"{device.name} ")
    evals, t0, step = [], time.perf_counter(), 0

    def evaluate(at: int) -> None:
        train_loss, train_acc = trainer.evaluate(Xe, ye)
        test_loss, test_acc = trainer.evaluate(task.X_test, task.y_test)
        row = {"step": at, "loss": train_loss, "accuracy": train_acc, "test_loss": test_loss, "test_accuracy": test_acc}
        evals.append(row)
        log.write(kind="eval", **row)
        bar.message(f"eval step {at}: loss {train_loss:.4f} accuracy {train_acc:.3f} "
                    f"(test {test_loss:.4f} / {test_acc:.3f})")

    weights = out / WEIGHTS
    try:
        evaluate(0)
        for step in range(1, opts.steps + 1):
            info = trainer.train_step()
            log.write(kind="train", step=step, **info)
            bar.update(step, info["loss_plus"])
            if (opts.eval_interval and step % opts.eval_interval == 0) or step == opts.steps:
                evaluate(step)
    except BaseException:
        bar.close()
        log.close()
        try:                      # keep what the engine holds (Ctrl-C); a broken link cannot give it
            save_weights(weights, client, trainer.net.words, {**metadata, "step": step, "interrupted": True})
        except Exception:
            pass
        raise
    bar.close()
    log.close()
    codes = save_weights(weights, client, trainer.net.words, {**metadata, "step": step})
    stats = device.link.stats if device.link is not None else None
    return {"steps": step, "seconds": time.perf_counter() - t0, "first": evals[0], "last": evals[-1],
            "weights": weights, "codes": codes, "link": stats,
            "c_saturated": trainer.c_saturated}
