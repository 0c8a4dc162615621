"""The training loop: AdamW, MeZO or PeZO on a task, with evaluation, metrics, plots and checkpoints.

Exact resume. Everything a step depends on is either in the checkpoint (weights, AdamW moments, the step
number) or a pure function of the options and the step number (the batch, the learning rate, the ZO
seeds and the PeZO stream position), and no step reads uninitialised memory. So a run interrupted at
step k and resumed from its checkpoint computes bit for bit the weights of an uninterrupted run (same
machine, same thread count for BLAS).

Failures. A NaN/inf loss (or gradient) stops the run without saving: the last good checkpoint stays in
charge and :class:`TrainingError` says why in one line. Ctrl-C between steps saves a checkpoint of the
last completed step and raises KeyboardInterrupt; SIGTERM does the same. A Ctrl-C in the middle of a step
is held until the step ends (the weights are perturbed during a ZO step); a third one stops at once
without saving. A save, once started, always finishes (signals wait for it).
"""

from __future__ import annotations

import math
import os
import pathlib
import signal
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .. import atomic
from ..errors import ToolError
from .backends import backend_for
from .blas import using_blas_threads
from .checkpoint import CheckpointError, load
from .config import num_elements, parse_config
from ..limits import check_memory
from .data import load_task
from ..metrics import MetricsLog, read_metrics
from .hub import resolve_init
from .model import GPT
from .optim import NonFiniteLoss, Workers, build
from .options import RESUMABLE, OptionError, TrainOptions
from .params import Params
from .plot import plot_run
from ..progress import Progress
from ..runlock import lock_folder
from .runstate import (MANIFEST, NonFiniteWeights, any_checkpoint, clean_partial, latest_checkpoint,
                       load_checkpoint, save_checkpoint)
from .schedule import learning_rate
from .tokenizer import ByteTokenizer, TokenizerError, load_tokenizer
from ..tools import versions

__all__ = ["Trainer", "TrainingError", "RunResult", "load_model", "resolve_tokenizer", "SMALL_MODEL"]

#: Models below this many parameters train on one thread when --threads is 0 (automatic).
SMALL_MODEL = 4_000_000


class TrainingError(ToolError):
    """The run stopped (non-finite loss); one line saying why and which checkpoint is kept."""


@dataclass
class RunResult:
    step: int
    train_loss: float
    evals: list = field(default_factory=list)       # eval records (dicts)
    checkpoint: pathlib.Path | None = None
    seconds: float = 0.0


def load_model(init: str | None, model: str, seed: int):
    """(config, params, folder) from a checkpoint (Hugging Face hub name or directory, llm.c .bin, or a run
    directory: its newest checkpoint) or a fresh initialisation of the shape ``model``."""
    if init is None:
        config = parse_config(model)
        return config, Params.init(config, seed), None
    path = resolve_init(init)                                # a hub name: its snapshot in the hub's cache
    newest = latest_checkpoint(path) if path.is_dir() else None
    if newest is not None:
        path = newest
    if path.is_dir() and (path / MANIFEST).is_file():        # a training checkpoint: verified first
        config, params, _, _ = load_checkpoint(path, arrays=False)
        return config, params, path
    config, params = load(path)
    return config, params, path if path.is_dir() else path.parent


def resolve_tokenizer(spec: str | None, config, folder: pathlib.Path | None):
    if spec is not None:
        tok = load_tokenizer(spec)
    elif config.vocab_size == ByteTokenizer.vocab_size:
        tok = ByteTokenizer()
    elif _has_tokenizer_files(folder):
        tok = load_tokenizer(folder)
    else:
        raise TokenizerError(f"the model has a {config.vocab_size}-token vocabulary: give --tokenizer FOLDER with "
                             "encoder.json + vocab.bpe (or vocab.json + merges.txt)")
    if tok.vocab_size > config.vocab_size:
        raise TokenizerError(f"--tokenizer {tok.name} has {tok.vocab_size} tokens but the model only "
                             f"{config.vocab_size}")
    return tok


def _has_tokenizer_files(folder) -> bool:
    return folder is not None and any((folder / f).is_file() for f in ("encoder.json", "vocab.json"))


def _training_bytes(config, opts) -> int:
    """A rough lower bound of a step's memory: weights and their copies (gradient and AdamW's two
    moments, or ZO's perturbation), and the activations of one batch."""
    C, L, V, T = config.n_embd, config.n_layer, config.padded_vocab_size, opts.seq
    copies = 4 if opts.optimizer == "adamw" else 2
    activations = opts.batch * T * (L * (16 * C + 2 * config.n_head * T) + 2 * V)
    return 4 * (copies * num_elements(config) + activations)


class _Stop:
    """Ctrl-C (SIGINT) and SIGTERM while training. A first signal only sets ``requested``: the loop
    stops after the current step and saves; a second one says so again; a third one in the middle of a
    step stops at once (the weights are mid-update, nothing is saved, the last checkpoint stays). During
    a save every signal is held: a save always finishes."""

    def __init__(self):
        self.requested = None
        self.count = 0
        self.saving = False

    def handler(self, signum, frame):
        self.count += 1
        if self.saving:
            self.requested = self.requested or signum
        elif self.requested is None:
            self.requested = signum
        elif self.count == 2:
            sys.stderr.write("\nstopping after this step and saving; interrupt once more to stop without saving\n")
        else:
            raise KeyboardInterrupt

    @contextmanager
    def hold(self):
        self.saving = True
        try:
            yield
        finally:
            self.saving = False


@contextmanager
def _stop_signals():
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Trainer:
    """``Trainer(options).run()``; ``Trainer.resume(out, steps=...)`` continues a saved run."""

    def __init__(self, opts: TrainOptions, *, _checkpoint=None, after_step=None, log=print):
        self.opts = opts.check()
        self.out = pathlib.Path(opts.out)
        self.after_step = after_step          # callback(trainer, step) after each completed step (tests)
        self.log = log
        self._lock = lock_folder(self.out)    # one writer per run folder, until run() ends
        try:
            self._setup(opts, _checkpoint)
        except BaseException:
            self._lock.release()
            raise

    def _setup(self, opts: TrainOptions, _checkpoint) -> None:
        gone = clean_partial(self.out)
        if gone:
            self.log(f"removed {len(gone)} half-written checkpoint folder(s) of an interrupted save: {gone[0]} ...")
        if _checkpoint is None:
            existing = any_checkpoint(self.out)
            if existing:
                raise OptionError(f"--out={str(self.out)!r} already holds a run (checkpoints/{existing[-1]}); "
                                  "pass --resume to continue it or choose another --out")
            config, params, folder = load_model(opts.init, opts.model, opts.seed)
            self.step, state, arrays = 0, None, {}
            self.run_id = uuid.uuid4().hex
        else:
            if latest_checkpoint(self.out) != _checkpoint:
                raise OptionError(f"--out={str(self.out)!r}: the newest checkpoint changed while resuming; try again")
            folder, (config, params, state, arrays) = _checkpoint, load_checkpoint(_checkpoint)
            self.run_id = state["run"]
            self.step = int(state["step"])
            if opts.init is not None and opts.tokenizer is None and not _has_tokenizer_files(folder):
                init = resolve_init(opts.init)        # a checkpoint of an older zoforge: the files of --init
                folder = init if init.is_dir() else init.parent
        if opts.seq > config.block_size:
            raise OptionError(f"--seq={opts.seq} exceeds the model's block_size {config.block_size}; "
                              f"--seq must be in [2, {config.block_size}]")
        check_memory(_training_bytes(config, opts), f"training {config} with --batch {opts.batch} --seq {opts.seq}")
        self.config = config
        self.tokenizer = resolve_tokenizer(opts.tokenizer, config, folder)
        self.task = load_task(opts.task, opts.data, self.tokenizer, opts.seq, seed=opts.seed,
                              val_fraction=opts.val_fraction, template=opts.template,
                              labels=tuple(opts.labels) if opts.labels else None)
        try:
            backend = backend_for(opts.matmul, opts.npu_design)
        except ValueError as e:
            raise OptionError(str(e) if opts.npu_design else f"--matmul={opts.matmul!r}: {e}") from None
        self.model = GPT(config, params, backend=backend)
        # Small models run faster on one thread (see blas.py); 0 = automatic.
        self.threads = opts.threads or (1 if config.num_parameters < SMALL_MODEL else None)
        self.workers = Workers(self.threads)
        self.optimizer = build(opts.optimizer, params, perturb=opts.perturb, eps=opts.eps,
                               weight_decay=opts.weight_decay, queries=opts.queries, seed=opts.seed,
                               betas=tuple(opts.betas), grad_clip=opts.grad_clip, pool_refresh=opts.pool_refresh,
                               workers=self.workers,
                               # The reference passes, not FusedZOSGD: measured on this project's machine
                               # (benchmarks/results/host_step_time*.md) the fused step is slower at 2
                               # threads (its per-tensor sweeps leave a thread idle) and no faster at 1
                               fused=False,
                               backend=backend)                      # a design that perturbs in its tiles
        if state is not None:
            self.optimizer.load(state["optimizer"], arrays)
        self.evals: list[dict] = [r for r in read_metrics(self.out / "metrics.jsonl")
                                  if r.get("kind") == "eval" and r["step"] <= self.step] if state else []
        self.checkpoint: pathlib.Path | None = _checkpoint
        self._resumed = state is not None

    @classmethod
    def resume(cls, out: str | os.PathLike, *, after_step=None, log=print, override: bool = False,
               **changes) -> "Trainer":
        """Continue the run saved in ``out``; ``changes`` may only touch :data:`RESUMABLE` options, others
        too with ``override`` (``--resume-override``; the optimizer never: its state is in the checkpoint)."""
        folder = latest_checkpoint(out)
        if folder is None:
            raise OptionError(f"--out={str(out)!r} has no checkpoint to --resume from")
        _, _, state, _ = load_checkpoint(folder)
        opts = TrainOptions.from_dict(state["options"])
        for key, value in changes.items():
            if getattr(opts, key) != value:
                option = "--" + key.replace("_", "-")
                if key not in RESUMABLE and (not override or key == "optimizer"):
                    how = "" if key == "optimizer" else " (or pass --resume-override to change it anyway)"
                    raise OptionError(f"{option}={value!r} differs from the saved run's {getattr(opts, key)!r}; "
                                      f"on --resume only {', '.join('--' + k.replace('_', '-') for k in sorted(RESUMABLE))} "
                                      f"may change{how}")
                if key not in RESUMABLE:
                    log(f"resume: {option} changed from {getattr(opts, key)!r} to {value!r} (--resume-override)")
                setattr(opts, key, value)
        opts.out = str(out)
        return cls(opts, _checkpoint=folder, after_step=after_step, log=log)

    # ---- the loop -------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            with using_blas_threads(self.threads):
                return self._run()
        finally:
            self.workers.close()                   # a trainer runs once; its threads go with it
            self._lock.release()

    def _run(self) -> RunResult:
        opts, out = self.opts, self.out
        atomic.make_dir(out)
        metrics = MetricsLog(out / "metrics.jsonl", resume_at=self.step if self._resumed else None)
        progress = Progress(opts.steps, self.step, enabled=opts.progress, label=f"{opts.optimizer} ")
        if not self._resumed:
            self.log(f"train: {self.config.num_parameters:,} parameters, {self.task.describe()}, "
                     f"optimizer {self.optimizer.name}, {opts.steps} steps -> {out}")
            metrics.write(kind="start", step=0, options=opts.to_dict(), parameters=self.config.num_parameters,
                          versions=versions("numpy", "safetensors", "tiktoken"))
            self._evaluate(metrics, progress)
        t_start, last_loss, tokens = time.perf_counter(), math.nan, 0
        consistent = True
        with _stop_signals() as stop:
            try:
                while self.step < opts.steps:
                    if stop.requested is not None:
                        stop.saving = True                  # from here on the save below always finishes
                        raise KeyboardInterrupt
                    step = self.step
                    batch = self.task.batch(step, opts.batch)
                    lr = learning_rate(step, opts.lr, opts.lr_schedule, opts.warmup, opts.steps)
                    t0 = time.perf_counter()
                    loss = self._backprop(batch)            # leaves the weights untouched
                    consistent = False
                    loss = self._update(batch, step, lr, loss)
                    consistent = True
                    dt = time.perf_counter() - t0
                    self.step = step + 1
                    last_loss = loss
                    tokens += int(np.count_nonzero(batch.targets >= 0))
                    if self.step % opts.log_interval == 0 or self.step == opts.steps:
                        metrics.write(kind="train", step=self.step, loss=loss, lr=lr, seconds=round(dt, 6),
                                      **self._extra())
                    progress.update(self.step, loss)
                    if self.step == opts.steps or (opts.eval_interval and self.step % opts.eval_interval == 0):
                        self._evaluate(metrics, progress)
                        if self.step < opts.steps:
                            self.plot()                     # the end's plot comes after the loop
                    if self.step == opts.steps or (opts.checkpoint_interval and
                                                   self.step % opts.checkpoint_interval == 0):
                        with stop.hold():
                            self._save()
                    if self.after_step is not None:
                        self.optimizer.flush()
                        self.after_step(self, self.step)
            except KeyboardInterrupt:
                with stop.hold():
                    progress.close()
                    metrics.close()
                    if consistent:
                        if self.checkpoint is None or not self.checkpoint.name.endswith(f"{self.step:08d}"):
                            try:
                                self._save()
                            except NonFiniteWeights as e:
                                self.log(f"interrupted after step {self.step}: {e}; kept {self.checkpoint}")
                                raise KeyboardInterrupt from None
                        self.log(f"interrupted after step {self.step}: saved {self.checkpoint}; continue with "
                                 f"zoforge train --out {out} --resume")
                    else:
                        self.log(f"interrupted inside step {self.step + 1}: weights were mid-update, kept "
                                 f"{self.checkpoint or 'no checkpoint'}")
                raise
            except (NonFiniteLoss, ArithmeticError, NonFiniteWeights) as e:
                progress.close()
                metrics.write(kind="stop", step=self.step + 1, reason=str(e))
                metrics.close()
                kept = (f"kept {self.checkpoint} (step {self._checkpoint_step()})" if self.checkpoint
                        else "no checkpoint was saved")
                raise TrainingError(f"stopped at step {self.step + 1}: {e}; {kept}; try a lower --lr") from None
        self.optimizer.flush()
        progress.close()
        metrics.close()
        self.plot()
        seconds = time.perf_counter() - t_start
        if opts.matmul != "cpu":
            self.log(self.model.backend.summary())
        return RunResult(self.step, last_loss, self.evals, self.checkpoint, seconds)

    def _backprop(self, batch):
        """AdamW's forward and backward (the gradient); ZO steps have no such part."""
        if self.opts.optimizer != "adamw":
            return None
        return self.model.forward_backward(batch.tokens, batch.targets)

    def _update(self, batch, step, lr, loss):
        if self.opts.optimizer == "adamw":
            if not math.isfinite(loss):
                raise NonFiniteLoss(f"loss is {loss}")
            self.optimizer.step(self.model.grads, lr)
            return loss
        return self.optimizer.step(lambda: self.model.forward(batch.tokens, batch.targets), step, lr)

    def _extra(self) -> dict:
        if self.opts.optimizer == "adamw":
            return {"grad_norm": round(self.optimizer.last_grad_norm, 6)}
        return {"projected_grad": [round(g, 6) for g in self.optimizer.last_grads]}

    def _evaluate(self, metrics: MetricsLog, progress: Progress) -> dict:
        t0 = time.perf_counter()
        result = self.task.evaluate(self.model, self.opts.batch, self.opts.eval_batches)
        record = {"kind": "eval", "step": self.step, **result, "seconds": round(time.perf_counter() - t0, 3)}
        self.evals.append(record)
        metrics.write(**record)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.items())
        progress.message(f"eval at step {self.step}: {shown}")
        return record

    def _state(self) -> dict:
        opt = self.optimizer
        state = {"run": self.run_id, "step": self.step, "options": self.opts.to_dict(), "optimizer": {"name": opt.name, **opt.state_dict()},
                 "data": {"batches_seen": self.step, "batch_seed": self.opts.seed},
                 "numpy": np.__version__}
        src = getattr(opt, "source", None)
        if src is not None and getattr(src, "is_pool", False):
            # the next query's SEED/START (a function of the step; recorded for the hardware and for humans)
            seed, start = src.position(self.step * opt.queries)
            state["perturbation"] = {"spec": str(src.spec), "refresh": src.spec.refresh, "next_pool_seed": seed,
                                     "next_start": start, "stream_length": src.stream_length}
        elif src is not None:
            state["perturbation"] = {"source": src.name, "seeds": "query_seed(seed, step, i)"}
        return state

    def _save(self) -> None:
        self.optimizer.flush()                  # a fused ZO step leaves its update due until the next forward
        self.checkpoint = save_checkpoint(self.out, self.step, self.config, self.model.params, self._state(),
                                          self.optimizer.arrays(), keep=self.opts.keep,
                                          files=getattr(self.tokenizer, "files", {}))

    def _checkpoint_step(self) -> int:
        return int(self.checkpoint.name.split("-")[-1]) if self.checkpoint else 0

    def plot(self) -> pathlib.Path:
        """``loss.png``: the train loss and every evaluation so far (rewritten at each evaluation, so a
        long run's plot shows where it stands)."""
        path = self.out / "loss.png"
        name = self.opts.optimizer
        plot_run(path, read_metrics(self.out / "metrics.jsonl"), name, title=f"{name} on {self.opts.task}")
        return path
