"""Every option of a training run in one dataclass, checked once, saved with each checkpoint.

The CLI fills :class:`TrainOptions` from the command line; tests and benchmarks build it directly.
:meth:`TrainOptions.check` raises :class:`OptionError` with one line naming the option, its value and
what is allowed. A resumed run takes its options from the checkpoint; only the options in
:data:`RESUMABLE` may change on resume, since the others decide the run's trajectory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["TrainOptions", "OptionError", "RESUMABLE", "SCHEDULES"]

SCHEDULES = ("constant", "cosine")
#: Options a resumed run may change (they do not change which weights the run computes; the thread
#: count is not among them: BLAS may sum in another order on another thread count).
RESUMABLE = frozenset({"steps", "eval_interval", "eval_batches", "checkpoint_interval", "log_interval",
                       "out", "progress", "keep"})


class OptionError(ValueError):
    """An option value is not allowed; one line naming the option."""


@dataclass
class TrainOptions:
    # model and data
    init: str | None = None               # checkpoint to start from (HF directory or llm.c .bin)
    model: str = "small"                  # model shape when starting from scratch (preset or gpt:...)
    task: str = "lm"
    data: str | list | None = None
    tokenizer: str | None = None          # "bytes" or a folder with the GPT-2 BPE files
    template: str | None = None
    labels: list | None = None
    val_fraction: float = 0.1
    # optimizer
    optimizer: str = "pezo"
    perturb: str | None = None
    pool_refresh: int = 0                 # PeZO pool: reseed the pool every N queries (0: never)
    lr: float = 1e-4
    lr_schedule: str = "constant"
    warmup: int = 0
    eps: float = 1e-3
    queries: int = 1
    weight_decay: float = 0.0
    betas: list = field(default_factory=lambda: [0.9, 0.95])
    grad_clip: float = 0.0
    # loop
    steps: int = 100
    batch: int = 8
    seq: int = 64
    eval_interval: int = 50
    eval_batches: int = 8
    checkpoint_interval: int = 0          # 0: only at the end (and on Ctrl-C)
    keep: int = 2                         # newest checkpoints kept (one bad write never leaves zero)
    log_interval: int = 1
    seed: int = 0
    matmul: str = "cpu"
    npu_design: str | None = None         # gemm spec or preset of --matmul npu-emu (None: the backend's default)
    threads: int = 0                      # 0: the BLAS setting / CPU count
    out: str = "runs/train"
    progress: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "TrainOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    def check(self) -> "TrainOptions":
        from .data import TASKS
        from .optim import OPTIMIZERS

        def need(ok: bool, option: str, value, allowed: str) -> None:
            if not ok:
                raise OptionError(f"--{option.replace('_', '-')}={value!r} is not allowed; "
                                  f"--{option.replace('_', '-')} must be {allowed}")

        need(self.task in TASKS, "task", self.task, "one of " + "|".join(TASKS))
        need(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, "one of " + "|".join(OPTIMIZERS))
        need(self.lr_schedule in SCHEDULES, "lr_schedule", self.lr_schedule, "one of " + "|".join(SCHEDULES))
        need(self.lr > 0, "lr", self.lr, "a number > 0")
        need(self.eps > 0, "eps", self.eps, "a number > 0")
        need(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        need(self.grad_clip >= 0, "grad_clip", self.grad_clip, "a number >= 0 (0: no clipping)")
        need(0 < self.val_fraction < 1, "val_fraction", self.val_fraction, "a number in (0, 1)")
        need(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", self.betas,
             "two numbers in [0, 1)")
        for name, lo in (("queries", 1), ("steps", 1), ("batch", 1), ("seq", 2), ("eval_interval", 0),
                         ("eval_batches", 1), ("checkpoint_interval", 0), ("log_interval", 1), ("warmup", 0),
                         ("seed", 0), ("threads", 0), ("keep", 1)):
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= lo, name, value,
                 f"an integer >= {lo}")
        if self.perturb is not None and self.optimizer != "pezo":
            raise OptionError(f"--perturb={self.perturb!r} is only used by --optimizer pezo, not "
                              f"--optimizer {self.optimizer}")
        if self.pool_refresh and self.optimizer != "pezo":      # its value is checked by the spec (refresh=)
            raise OptionError(f"--pool-refresh={self.pool_refresh} is only used by --optimizer pezo with a pool "
                              f"spec, not --optimizer {self.optimizer}")
        if self.task == "lm" and (self.template is not None or self.labels is not None):
            raise OptionError("--template/--labels are only used by --task sst2|synthetic, not --task lm")
        if self.task == "synthetic" and self.data is not None:
            raise OptionError(f"--data={self.data!r} is not used by --task synthetic (it generates its data)")
        if self.task != "synthetic" and self.data is None:
            raise OptionError(f"--data is required for --task {self.task}")
        return self
