"""``zoforge train --device ...``: zeroth-order training of a small network that lives in an engine
(golden model, simulated board or real board), by engine commands only (:class:`ZOTrainer`).

The run directory gets ``metrics.jsonl`` (one line per step, evaluations with ``"kind": "eval"``) and
``loss.png`` (train loss and every evaluation so far, rewritten at each evaluation) and
``weights.safetensors``: the engine's weight memory read back over the link (``engine.words``, int32
codes, words x lanes) with the engine spec, the layer sizes and the device in its metadata. Runs on
two devices from the same options end with identical weight codes when both engines compute the same
bits. On Ctrl-C the weights are read back and saved before exiting.

Members: :func:`run_engine_training` -> summary dict, :func:`save_weights`,
:func:`load_weights`.
"""

from __future__ import annotations

import json
import pathlib
import time

import numpy as np

from .. import atomic
from ..errors import OutputError
from ..runlock import lock_folder
from ..tools import versions
from .options import DeviceTrainOptions
from .trainer import ZOTrainer, make_task
from ..host.plot import plot_run
from ..metrics import MetricsLog, read_metrics
from ..progress import Progress

__all__ = ["run_engine_training", "save_weights", "load_weights", "WEIGHTS", "PLOT"]

WEIGHTS, PLOT = "weights.safetensors", "loss.png"


def save_weights(path, client, words: int, metadata: dict) -> np.ndarray:
    from safetensors.numpy import save
    codes = client.read(0, words).astype(np.int32)
    atomic.write_bytes(path, save({"engine.words": codes}, metadata={k: str(v) for k, v in metadata.items()}))
    return codes


def load_weights(path) -> tuple[np.ndarray, dict]:
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        return f.get_tensor("engine.words"), dict(f.metadata() or {})


def refuse_earlier_weights(out) -> None:
    """An earlier run's engine weights in ``out`` are never replaced: a one-line OutputError."""
    weights = pathlib.Path(out) / WEIGHTS
    if weights.exists() or weights.is_symlink():
        raise OutputError(f"{weights} exists (an earlier run's engine weights); not overwritten: choose "
                          f"another -o or move it away")


def run_engine_training(device, opts: DeviceTrainOptions) -> dict:
    """Train in ``device``'s engine with ``opts`` (the trainer's one loop); write the metrics and the
    weights read back from the engine, also when interrupted. The run folder is locked while it runs,
    and an earlier run's weights are never replaced."""
    with lock_folder(opts.out):
        refuse_earlier_weights(opts.out)
        return _run(device, opts)


def _run(device, opts: DeviceTrainOptions) -> dict:
    client = device.client
    out = pathlib.Path(opts.out)
    task = make_task(opts.features, opts.classes, train=opts.train_samples, test=opts.eval_samples,
                     seed=opts.seed)
    trainer = ZOTrainer(client, task, opts)
    metadata = {"engine": str(client.spec), "sizes": json.dumps(trainer.net.sizes), "device": device.name,
                "w_frac": client.spec.w_frac, "versions": json.dumps(versions("amaranth", "numpy"))}
    log = MetricsLog(out / "metrics.jsonl")
    bar = Progress(opts.steps, enabled=opts.progress, label=f"{device.name} ")
    t0 = time.perf_counter()

    def on_step(step, info):
        log.write(kind="train", step=step, **info)
        bar.update(step, info["loss_plus"])

    def plot():
        plot_run(out / PLOT, read_metrics(out / "metrics.jsonl"), "zo",
                 title=f"ZO training inside {device.name} ({trainer.net.sizes} network)")

    def on_eval(row):
        log.write(kind="eval", **row)
        plot()
        bar.message(f"eval step {row['step']}: loss {row['loss']:.4f} accuracy {row['accuracy']:.3f} "
                    f"(test {row['test_loss']:.4f} / {row['test_accuracy']:.3f})")

    weights = out / WEIGHTS
    try:
        evals = trainer.train(on_step=on_step, on_eval=on_eval)
    except BaseException:
        bar.close()
        log.close()
        try:                      # keep what the engine holds (Ctrl-C); a broken link cannot give it
            save_weights(weights, client, trainer.net.words,
                         {**metadata, "step": trainer.steps_done, "interrupted": True})
        except Exception:
            pass
        raise
    bar.close()
    log.close()
    step = trainer.steps_done
    codes = save_weights(weights, client, trainer.net.words, {**metadata, "step": step})
    stats = device.link.stats if device.link is not None else None
    return {"steps": step, "seconds": time.perf_counter() - t0, "first": evals[0], "last": evals[-1],
            "weights": weights, "codes": codes, "link": stats, "plot": out / PLOT,
            "c_saturated": trainer.c_saturated, "overflow": client.overflow}
