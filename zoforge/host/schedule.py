"""Learning-rate schedules: constant (MeZO's default) or cosine decay to 10 %, both with linear warm-up."""

from __future__ import annotations

import math

__all__ = ["learning_rate"]

MIN_RATIO = 0.1


def learning_rate(step: int, base: float, schedule: str, warmup: int, total: int) -> float:
    """The rate for step ``step`` (0-based) of ``total``."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return base * (MIN_RATIO + (1.0 - MIN_RATIO) * 0.5 * (1.0 + math.cos(math.pi * progress)))
