"""What every task shares: the one-line error, the batch, and deterministic orders from a seed.

Batches are a pure function of (seed, step): a resumed run needs only the step number to continue with
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["DataError", "Batch", "epoch_indices", "IGNORE"]

#: Target value the loss ignores (prompt and padding positions of a classification example).
IGNORE = -1


class DataError(ValueError):
    """A data file is missing or malformed; one line naming the file (and line) and what is wrong."""


@dataclass(frozen=True)
class Batch:
    tokens: np.ndarray      # (B, T) int32
    targets: np.ndarray     # (B, T) int32, IGNORE where there is nothing to predict
    labels: np.ndarray | None = None     # (B,) classification labels, when the task has them


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    order = np.random.default_rng([seed, epoch, n]).permutation(n)
    order.setflags(write=False)
    return order


def epoch_indices(seed: int, step: int, batch: int, n: int) -> np.ndarray:
    """Example indices of batch ``step``: positions step*batch .. of the endless sequence of shuffled
    epochs (each epoch a permutation of range(n) from (seed, epoch))."""
    first = step * batch
    pos = np.arange(first, first + batch)
    epochs, within = np.divmod(pos, n)
    return np.array([_permutation(seed, int(e), n)[i] for e, i in zip(epochs, within)], dtype=np.intp)
