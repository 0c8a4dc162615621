"""Text generation: temperature and top-k sampling from the model's last-position logits.

No key/value cache (the numpy model recomputes the context each token): simple and fine for short samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["generate"]


def generate(model, prompt: list[int], tokens: int, *, temperature: float = 0.8, top_k: int = 40,
             seed: int = 0, stop: int | None = None) -> list[int]:
    """``prompt`` followed by up to ``tokens`` new ids (stops after ``stop``, e.g. end-of-text).
    ``temperature`` 0 is greedy; ``top_k`` 0 keeps the whole vocabulary."""
    rng = np.random.default_rng(seed)
    ids = list(prompt)
    block = model.config.block_size
    for _ in range(tokens):
        logits = model.logits(np.array([ids[-block:]]), last_only=True)[0].astype(np.float64)
        if temperature == 0:
            nxt = int(np.argmax(logits))
        else:
            logits /= temperature
            if 0 < top_k < len(logits):
                cut = np.partition(logits, -top_k)[-top_k]
                logits[logits < cut] = -np.inf
            p = np.exp(logits - logits.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        ids.append(nxt)
        if nxt == stop:
            break
    return ids
