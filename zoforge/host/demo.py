"""The host half of ``make run``: the project's own base model, then PeZO next to MeZO (and AdamW).

1. Base model: a small GPT-2 (preset ``quick``, byte tokenizer) pretrained with AdamW on Python's
   standard-library sources (:mod:`zoforge.host.data.stdlib`), or loaded from ``OUT/base`` when a
   previous run left one trained with the very same options and files.
2. Fine-tuning on a domain the base never saw: the Verilog that step 1 of the quickstart just generated
   (text the project produces, deterministic). PeZO uses the quickstart's PeZO spec (the numbers the
   generated gateware makes); MeZO and AdamW run with the same data, seed and steps. The three runs go
   to two worker processes (one BLAS thread each).
3. A report: eval-loss table and a PNG of the curves.
"""

from __future__ import annotations

import json
import multiprocessing
import pathlib
import shutil
import time
from concurrent.futures import ProcessPoolExecutor

from .data import stdlib_files
from .options import TrainOptions

__all__ = ["base_options", "ensure_base", "finetune_all", "report_lines", "MODEL"]

MODEL = "quick"
PRETRAIN = dict(optimizer="adamw", task="lm", model=MODEL, lr=3e-3, lr_schedule="cosine", warmup=20, weight_decay=0.1,
                grad_clip=1.0, steps=400, batch=16, seq=128, eval_interval=0, eval_batches=8, seed=0, threads=1)
STDLIB_BYTES = 1_000_000
FINETUNE = dict(task="lm", lr=1e-3, eps=1e-3, steps=200, batch=16, seq=128, eval_interval=50, eval_batches=8,
                seed=0, threads=1)
ADAMW_LR = 1e-3
_VOLATILE = ("out", "progress", "threads")


def base_options(out: pathlib.Path) -> TrainOptions:
    files = [str(p) for p in stdlib_files(STDLIB_BYTES)]
    return TrainOptions(**PRETRAIN, data=files, out=str(out), progress=False)


def _same_run(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k not in _VOLATILE} == {k: v for k, v in b.items() if k not in _VOLATILE}


def ensure_base(out: pathlib.Path, log=print) -> tuple[pathlib.Path, dict, bool]:
    """(checkpoint directory, eval record, reused?) of the base model in ``out``."""
    from .runstate import latest_checkpoint
    from .trainer import Trainer
    opts = base_options(out)
    done = latest_checkpoint(out)
    if done is not None:
        state = json.loads((done / "state.json").read_text())
        if state["step"] == opts.steps and _same_run(state["options"], opts.to_dict()):
            evals = [r for r in _records(out) if r.get("kind") == "eval"]
            return done, evals[-1], True
    shutil.rmtree(out, ignore_errors=True)
    log(f"      pretraining {opts.model} ({opts.steps} AdamW steps, B={opts.batch}, T={opts.seq}) on "
        f"{len(opts.data)} standard-library files ({STDLIB_BYTES // 1000} kB)")
    result = Trainer(opts, log=lambda *_: None).run()
    return result.checkpoint, result.evals[-1], False


def _records(run: pathlib.Path) -> list[dict]:
    from ..metrics import read_metrics
    return read_metrics(run / "metrics.jsonl")


def _finetune(job: tuple[str, dict]) -> dict:
    """One fine-tuning run (in a worker process)."""
    from .trainer import Trainer
    name, raw = job
    opts = TrainOptions.from_dict(raw)
    shutil.rmtree(opts.out, ignore_errors=True)
    t0 = time.perf_counter()
    result = Trainer(opts, log=lambda *_: None).run()
    return {"name": name, "evals": result.evals, "seconds": time.perf_counter() - t0, "out": opts.out,
            "checkpoint": str(result.checkpoint)}


def finetune_jobs(base: pathlib.Path, data: list[str], out: pathlib.Path, pezo_spec: str) -> list[tuple[str, dict]]:
    common = dict(FINETUNE, init=str(base), data=data, progress=False)
    return [("PeZO", TrainOptions(**common, optimizer="pezo", perturb=pezo_spec, out=str(out / "pezo")).to_dict()),
            ("MeZO", TrainOptions(**common, optimizer="mezo", out=str(out / "mezo")).to_dict()),
            ("AdamW", TrainOptions(**{**common, "lr": ADAMW_LR}, optimizer="adamw", out=str(out / "adamw")).to_dict())]


def finetune_all(jobs, workers: int = 2) -> list[dict]:
    """Run the jobs in ``workers`` fresh processes (spawned: no inherited threads)."""
    if workers <= 1:
        return [_finetune(j) for j in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_finetune, jobs))


def plot(results: list[dict], path: pathlib.Path, title: str) -> None:
    from .plot import plot_curves
    train, evals = {}, {}
    for r in results:
        recs = _records(pathlib.Path(r["out"]))
        train[r["name"]] = tuple(zip(*[(x["step"], x["loss"]) for x in recs if x.get("kind") == "train"]))
        evals[r["name"]] = tuple(zip(*[(x["step"], x["loss"]) for x in r["evals"]]))
    plot_curves(path, train, evals, title=title, ylabel="loss (nats per byte)")


def report_lines(results: list[dict], steps: int) -> list[str]:
    lines = ["| optimizer | eval loss before | eval loss after | change | steps | wall time |",
             "|---|---|---|---|---|---|"]
    for r in results:
        first, last = r["evals"][0]["loss"], r["evals"][-1]["loss"]
        lines.append(f"| {r['name']} | {first:.3f} | {last:.3f} | {last - first:+.3f} | {steps} "
                     f"| {r['seconds']:.0f} s |")
    return lines
