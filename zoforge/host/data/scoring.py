"""Scores computed from the model's logits: per-row log-likelihoods and next-token accuracy.

The logits are taken in row chunks so that at most :data:`LOGIT_FLOATS` of them exist at once (a GPT-2
BPE vocabulary makes 50257 floats per position).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOGIT_FLOATS", "sequence_logprob", "token_stats"]

LOGIT_FLOATS = 1 << 24


def _chunks(model, tokens: np.ndarray):
    T, V = tokens.shape[1], model.config.vocab_size
    rows = max(1, LOGIT_FLOATS // (T * V))
    for i in range(0, len(tokens), rows):
        yield i, model.logits(tokens[i:i + rows])


def _log_softmax_at(logits: np.ndarray, rows, cols, picks) -> np.ndarray:
    sel = logits[rows, cols].astype(np.float64)                 # (n, V)
    top = sel.max(axis=1)
    logz = np.log(np.exp(sel - top[:, None]).sum(axis=1)) + top
    return sel[np.arange(len(rows)), picks] - logz


def sequence_logprob(model, tokens: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per row, the sum of log p(target) over the positions whose target is not ignored (< 0)."""
    out = np.zeros(len(tokens))
    for i, logits in _chunks(model, tokens):
        tg = targets[i:i + len(logits)]
        rows, cols = np.nonzero(tg >= 0)
        np.add.at(out, i + rows, _log_softmax_at(logits, rows, cols, tg[rows, cols]))
    return out


def token_stats(model, tokens: np.ndarray, targets: np.ndarray) -> tuple[float, int, int]:
    """(sum of -log p(target), number of top-1 hits, number of targets) over non-ignored targets."""
    nll, hits, count = 0.0, 0, 0
    for i, logits in _chunks(model, tokens):
        tg = targets[i:i + len(logits)]
        rows, cols = np.nonzero(tg >= 0)
        picks = tg[rows, cols]
        nll -= float(_log_softmax_at(logits, rows, cols, picks).sum())
        hits += int(np.count_nonzero(logits[rows, cols].argmax(axis=1) == picks))
        count += len(rows)
    return nll, hits, count
