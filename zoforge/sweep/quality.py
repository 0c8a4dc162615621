"""ZO fine-tuning quality of a perturbation source: one training run, its final eval loss and curve.

Tasks (the base model is the one of ``make run``: the ``quick`` GPT-2, byte tokenizer, pretrained with
AdamW on Python standard-library sources, see :mod:`zoforge.host.demo`):

* ``lm``: fine-tune on a domain the base never saw, the Verilog the project generates for the
  quickstart's three RNG blocks (last 10 % held out); loss in nats per byte.
* ``classify``: fine-tune on the project's synthetic sentiment task (``zoforge train --task
  synthetic``): the label word's loss after a short sentence; cheaper per step than ``lm``.

Every run of a task starts from the same model with the same data, lr, eps and steps, and differs only
in the optimizer / perturbation source and the seed (batch order and ZO seeds). ``model="base"`` is
the pretrained base (trained once per machine, in :func:`zoforge.tools.cache_dir` ``sweep/base``,
under a lock so that parallel workers wait for one training); any model preset (``tiny``) starts
from a fresh initialisation instead, for quick looks and tests.

Members
-------
TASKS, DEFAULTS, VERILOG
base_model(folder=None)                        the pretrained base: (checkpoint, eval record, reused?)
prepare(task, model, folder=None) -> dict      TrainOptions fields that pick the model and the data
run_quality(optimizer, perturb_spec, seed, steps, ...) -> dict
    ``{"final_loss", "final_accuracy", "start_loss", "curve": [[step, loss], ...], "evals", "seconds"}``
"""

from __future__ import annotations

import contextlib
import fcntl
import pathlib
import shutil
import tempfile
import time

__all__ = ["TASKS", "DEFAULTS", "VERILOG", "base_model", "prepare", "run_quality", "verilog_files"]

#: sweep task name -> the trainer's task
TASKS = {"lm": "lm", "classify": "synthetic"}
#: Hyper-parameters of every run (the quality benchmark's): ZO and AdamW learning rates, eps, batch.
DEFAULTS = dict(batch=16, seq=64, lr=1e-3, adamw_lr=1e-3, eps=1e-3, evals=4, eval_batches=8)
#: The blocks whose Verilog is the ``lm`` task's text.
VERILOG = ["pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm", "gaussian:method=clt,n=4,lanes=8,bits=16",
           "gaussian:method=icdf,lanes=8,bits=16"]


@contextlib.contextmanager
def _locked(folder: pathlib.Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def verilog_files(folder: pathlib.Path) -> list[str]:
    """The ``lm`` task's files: the Verilog of :data:`VERILOG`, written into ``folder``."""
    from ..gen.emit import write
    from ..golden.spec import parse
    files = []
    for i, text in enumerate(VERILOG):
        info = write(parse(text), folder / str(i), "block")
        files.append(str(folder / str(i) / (info["top"] + ".v")))
    return files


def _folder(folder) -> pathlib.Path:
    from ..tools import cache_dir
    return pathlib.Path(folder) if folder is not None else cache_dir("sweep")


def base_model(folder=None, log=lambda *_: None) -> tuple[pathlib.Path, dict, bool]:
    """(checkpoint, eval record on its own data, reused?) of the base model in ``folder/base``,
    trained there on first use; parallel callers wait for one training."""
    from ..host import demo
    folder = _folder(folder)
    with _locked(folder):
        return demo.ensure_base(folder / "base", log=log)


def prepare(task: str, model: str = "base", folder=None) -> dict:
    """The TrainOptions fields (``task``, ``init`` or ``model``, ``data``) of a task; trains the base
    model on first use. ``folder``: where the base and the Verilog live (default: the user cache)."""
    if task not in TASKS:
        raise ValueError(f"task={task!r} is unknown; task must be one of {'|'.join(TASKS)}")
    folder = _folder(folder)
    fields = {"task": TASKS[task]}
    if model == "base":
        fields["init"] = str(base_model(folder)[0])
    else:
        fields["model"] = model
    if task == "lm":
        with _locked(folder):
            fields["data"] = verilog_files(folder / "verilog")
    return fields


def run_quality(optimizer: str, perturb_spec: str | None, seed: int, steps: int, *, task: str = "lm",
                model: str = "base", out=None, folder=None, pool_refresh: int = 0, **hyper) -> dict:
    """Fine-tune with ``optimizer`` (adamw | mezo | pezo with ``perturb_spec``) for ``steps`` steps.

    ``hyper`` overrides :data:`DEFAULTS`; ``evals`` evaluations are spread over the run (plus the one
    before the first step). ``out`` keeps the run (metrics, checkpoint, plot); by default it
    goes to a temporary folder that is removed. A non-finite loss raises
    :class:`zoforge.host.trainer.TrainingError`."""
    from ..host.options import TrainOptions
    from ..host.trainer import Trainer
    unknown = set(hyper) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"run_quality: unknown hyper-parameters {sorted(unknown)}")
    h = {**DEFAULTS, **hyper}
    fields = prepare(task, model, folder)
    with contextlib.ExitStack() as stack:
        run = pathlib.Path(out) if out is not None else \
            pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoforge-quality-")))
        shutil.rmtree(run, ignore_errors=True)
        opts = TrainOptions(**fields, optimizer=optimizer, perturb=perturb_spec, pool_refresh=pool_refresh,
                            lr=h["adamw_lr"] if optimizer == "adamw" else h["lr"], eps=h["eps"], steps=steps,
                            batch=h["batch"], seq=h["seq"], eval_interval=max(1, steps // h["evals"]),
                            eval_batches=h["eval_batches"], seed=seed, threads=1, progress=False, out=str(run))
        t0 = time.perf_counter()
        result = Trainer(opts, log=lambda *_: None).run()
        seconds = time.perf_counter() - t0
        evals = [{k: v for k, v in e.items() if k != "kind"} for e in result.evals]
        out_dict = {"final_loss": evals[-1]["loss"], "final_accuracy": evals[-1].get("accuracy"),
                    "start_loss": evals[0]["loss"], "curve": [[e["step"], e["loss"]] for e in evals],
                    "evals": evals, "seconds": seconds}
    return out_dict
