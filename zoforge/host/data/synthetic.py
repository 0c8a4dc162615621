"""A small synthetic sentiment task, generated (deterministically) by the project: no files needed.

Each sentence is a handful of neutral words with one or two sentiment words of the label's polarity
mixed in (``the plot was dull and slow``); the label word says which polarity. A model that reads
the sentence can reach 100 %; one that only learns the label words' prior stays near 50 %. Used by the
tests, the quality benchmark, and ``--task synthetic``.
"""

from __future__ import annotations

import numpy as np

from .classify import ClassifyTask, Example, check_classes

__all__ = ["synthetic_examples", "synthetic_task", "SYNTHETIC_TEMPLATE", "SYNTHETIC_LABELS"]

SYNTHETIC_TEMPLATE = "{sentence}. Sentiment:"
SYNTHETIC_LABELS = (" negative", " positive")
_NEGATIVE = ("bad", "dull", "awful", "slow", "boring", "weak", "poor", "sad")
_POSITIVE = ("good", "fun", "great", "fast", "lovely", "strong", "rich", "warm")
_NEUTRAL = ("the", "movie", "plot", "was", "and", "actors", "story", "film", "music", "a", "very", "its",
            "ending", "quite", "cast", "scenes")


def synthetic_examples(n: int, seed: int) -> list[Example]:
    rng = np.random.default_rng([seed, 20240531])
    out = []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        words = list(rng.choice(_NEUTRAL, size=int(rng.integers(3, 7))))
        for _ in range(int(rng.integers(1, 3))):
            words.insert(int(rng.integers(0, len(words) + 1)), rng.choice(_POSITIVE if label else _NEGATIVE))
        out.append(Example(" ".join(words), label))
    return out


def synthetic_task(tokenizer, seq: int, *, seed: int = 0, train: int = 2000, val: int = 256,
                   template: str | None = None, labels=None) -> ClassifyTask:
    """The task; its examples do not depend on the run's seed (only the batch order does)."""
    train_set, val_set = synthetic_examples(train, 1), synthetic_examples(val, 2)
    labels = labels or SYNTHETIC_LABELS
    check_classes(labels, train_set + val_set, "--task synthetic")
    return ClassifyTask(train_set, val_set, tokenizer, seq, template=template or SYNTHETIC_TEMPLATE, labels=labels,
                        seed=seed)
