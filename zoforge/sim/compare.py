"""Comparing a simulated stream with the golden model."""

from __future__ import annotations

import numpy as np

__all__ = ["mismatches", "describe"]


def mismatches(expected: np.ndarray, got: np.ndarray, limit: int = 10) -> list[tuple[int, int, int, int]]:
    """The first ``limit`` differences as (cycle, lane, expected, got); a missing word counts too."""
    rows = min(len(expected), len(got))
    diff = np.argwhere(expected[:rows] != got[:rows])
    out = [(int(c), int(l), int(expected[c, l]), int(got[c, l])) for c, l in diff[:limit]]
    for c in range(rows, min(len(expected), rows + limit - len(out))):
        out.append((c, -1, int(expected[c, 0]), None))
    return out


def describe(found: list[tuple]) -> str:
    return "\n".join(f"  cycle {c} lane {l}: expected {e}, got {g}" for c, l, e, g in found)
