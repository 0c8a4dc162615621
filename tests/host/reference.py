"""An independent float64 GPT-2 written as plainly as possible, to check the float32 model against."""

from __future__ import annotations

import math

import numpy as np


def _layernorm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def logits64(cfg, tensors: dict[str, np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """(B, T, V) float64 logits; ``tensors`` maps the llm.c names to arrays (any float dtype)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}
    B, T = tokens.shape
    C, H = cfg.n_embd, cfg.n_head
    hs = C // H
    x = p["wte"][tokens] + p["wpe"][:T]
    causal = np.tril(np.ones((T, T), dtype=bool))
    for l in range(cfg.n_layer):
        h = _layernorm(x, p["ln1w"][l], p["ln1b"][l])
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, H, hs).transpose(0, 2, 1, 3) for i in range(3))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)
        s = np.where(causal, s, -np.inf)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        y = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = _layernorm(x, p["ln2w"][l], p["ln2b"][l])
        x = x + _gelu(h @ p["fcw"][l].T + p["fcb"][l]) @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = _layernorm(x, p["lnfw"], p["lnfb"])
    return x @ p["wte"][:cfg.vocab_size].T


def loss64(cfg, tensors, tokens, targets) -> float:
    """Mean cross-entropy over targets >= 0."""
    lg = logits64(cfg, tensors, tokens).reshape(-1, cfg.vocab_size)
    t = np.asarray(targets).ravel()
    keep = t >= 0
    lg, t = lg[keep], t[keep]
    top = lg.max(-1, keepdims=True)
    lse = np.log(np.exp(lg - top).sum(-1)) + top[:, 0]
    return float(np.mean(lse - lg[np.arange(len(t)), t]))
