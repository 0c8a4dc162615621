"""AdamW (decoupled weight decay), nanoGPT's parameter groups: matrices and embeddings decay, biases and
LayerNorm gains do not. Moments ``m`` and ``v`` share the flat layout of the weights; the update runs
chunk by chunk on threads (each chunk's arithmetic is independent, so the bits do not depend on the
thread count). Formula as PyTorch's AdamW: ``w *= 1 - lr wd``; ``m = b1 m + (1-b1) g``;
``v = b2 v + (1-b2) g^2``; ``w -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)``.
"""

from __future__ import annotations

import math

import numpy as np

from ..params import Params
from .layout import Layout
from .passes import SUB
from .workers import Workers

__all__ = ["AdamW"]

_CHUNK = 1 << 20


class AdamW:
    name = "adamw"

    def __init__(self, params: Params, layout: Layout, workers: Workers, *, betas=(0.9, 0.95), eps: float = 1e-8,
                 weight_decay: float = 0.0, grad_clip: float = 0.0):
        self.params, self.layout, self.workers = params, layout, workers
        self.betas, self.eps, self.weight_decay, self.grad_clip = tuple(betas), eps, weight_decay, grad_clip
        self.m = np.zeros_like(params.data)
        self.v = np.zeros_like(params.data)
        self.t = 0
        self.last_grad_norm = 0.0
        self._tasks = [(s, a, min(a + _CHUNK, s.length)) for s in layout.segments for a in range(0, s.length, _CHUNK)]

    def grad_norm(self, grads: np.ndarray) -> float:
        def part(task):
            s, a, b = task
            g = grads[s.start + a:s.start + b]
            return float(np.dot(g, g))
        return math.sqrt(sum(self.workers.run(part, self._tasks)))

    def step(self, grads: Params, lr: float) -> float:
        """Update the weights from ``grads`` (modified: clipped in place). Returns the gradient norm."""
        b1, b2 = self.betas
        self.t += 1
        bc1, bc2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        norm = self.grad_norm(grads.data)
        if not math.isfinite(norm):
            self.t -= 1
            raise ArithmeticError(f"gradient norm is {norm}")
        clip = self.grad_clip / (norm + 1e-6) if self.grad_clip and norm > self.grad_clip else None
        step_size, root_bc2 = lr / bc1, math.sqrt(bc2)
        decay = 1.0 - lr * self.weight_decay if self.weight_decay else None
        w_all, g_all, m_all, v_all, workers = self.params.data, grads.data, self.m, self.v, self.workers

        def run(task):
            s, a, b = task
            tmp, tmp2 = workers.scratch("tmp", SUB), workers.scratch("tmp2", SUB)
            for i in range(s.start + a, s.start + b, SUB):
                j = min(i + SUB, s.start + b)
                w, g, m, v = w_all[i:j], g_all[i:j], m_all[i:j], v_all[i:j]
                t, t2 = tmp[:j - i], tmp2[:j - i]
                if clip is not None:
                    g *= clip
                m *= b1
                np.multiply(g, 1.0 - b1, out=t)
                m += t
                v *= b2
                np.multiply(g, g, out=t)
                t *= 1.0 - b2
                v += t
                np.sqrt(v, out=t)
                t *= 1.0 / root_bc2
                t += self.eps
                np.divide(m, t, out=t2)
                t2 *= step_size
                if decay is not None and s.decay:
                    w *= decay
                w -= t2

        workers.run(run, self._tasks)
        self.params.updated()
        self.last_grad_norm = norm
        return norm

    def flush(self) -> None:
        """Nothing is ever left due (the ZO optimizers' interface)."""

    def state_dict(self) -> dict:
        return {"t": self.t, "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay,
                "grad_clip": self.grad_clip}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"m": self.m, "v": self.v}

    def load(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        self.m[...] = arrays["m"]
        self.v[...] = arrays["v"]
