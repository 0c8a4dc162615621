"""Training data: tasks that turn text into batches, deterministically from a seed.

Members
-------
TASKS                          the task names: lm, sst2, synthetic
load_task(task, data, tokenizer, seq, ...)   a task object with ``batch(step, B)``, ``evaluate(model, B, n)``,
                               ``describe()`` and ``kind``
DataError, Batch, TextTask, ClassifyTask, read_texts, read_sst2, synthetic_task, stdlib_files
"""

from __future__ import annotations

from .classify import SST2_LABELS, SST2_TEMPLATE, ClassifyTask, Example, read_sst2
from .common import IGNORE, Batch, DataError
from .scoring import sequence_logprob, token_stats
from .stdlib import stdlib_files, stdlib_root
from .synthetic import synthetic_task
from .text import TextTask, read_texts

__all__ = ["TASKS", "load_task", "DataError", "Batch", "IGNORE", "TextTask", "ClassifyTask", "Example",
           "read_texts", "read_sst2", "synthetic_task", "stdlib_files", "stdlib_root", "sequence_logprob",
           "SST2_TEMPLATE", "SST2_LABELS", "token_stats"]

TASKS = ("lm", "sst2", "synthetic")


def load_task(task: str, data, tokenizer, seq: int, *, seed: int = 0, val_fraction: float = 0.1,
              template: str | None = None, labels: tuple[str, ...] | None = None):
    """``data``: a path (file or directory), a list of files (lm), or None (synthetic)."""
    if task == "synthetic":
        return synthetic_task(tokenizer, seq, seed=seed, template=template, labels=labels)
    if data is None:
        raise DataError(f"--data is required for --task {task}")
    if task == "lm":
        return TextTask(read_texts(data), tokenizer, seq, val_fraction=val_fraction, seed=seed)
    if task == "sst2":
        labels = tuple(labels or SST2_LABELS)
        train, val = read_sst2(data, classes=len(labels), val_fraction=val_fraction)
        return ClassifyTask(train, val, tokenizer, seq, template=template or SST2_TEMPLATE, labels=labels,
                            seed=seed)
    raise DataError(f"--task {task!r} is unknown; use one of {'|'.join(TASKS)}")
