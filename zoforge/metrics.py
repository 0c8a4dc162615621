"""Metrics: one JSON object per line (``metrics.jsonl``), appended and flushed as the run goes.

Lines have ``kind`` "train" (step, loss, lr, seconds, tokens ...) or "eval" (step, loss, accuracy ...).
On resume the file is cut back to the checkpoint's step, so a resumed run's file equals an
uninterrupted run's (up to timings).
"""

from __future__ import annotations

import json
import math
import os
import pathlib

from . import atomic

__all__ = ["MetricsLog", "read_metrics"]


def read_metrics(path: str | os.PathLike) -> list[dict]:
    path = pathlib.Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)                        # JSON has no NaN: keep it readable
    return value


class MetricsLog:
    def __init__(self, path: str | os.PathLike, *, resume_at: int | None = None):
        self.path = pathlib.Path(path)
        if resume_at is None:
            atomic.write_text(self.path, "")
        else:
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_at and
                    not (r.get("kind") == "train" and r.get("step", 0) > resume_at)]
            atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, **record) -> None:
        self._file.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
