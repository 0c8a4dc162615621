"""ZO-SGD (MeZO's algorithm) with a pluggable perturbation source: MeZO (Gaussian) or PeZO (a spec).

One step, for each of the ``q`` queries i (all on the same batch):

    w += eps z_i;  L+ = L(w);  w -= 2 eps z_i;  L- = L(w);  g_i = (L+ - L-) / (2 eps);  w += eps z_i

then the update ``w <- w * (1 - lr wd) - (lr / q) sum_i g_i z_i`` (decay only on decayed segments:
MeZO's rule, no decay for biases and LayerNorm). No z is stored: each pass regenerates it from the
query's seed (MeZO) or stream position (PeZO pool), so memory stays at inference level plus per-thread
scratch. With q = 1 the restore and the update are fused into one pass (same bits as two passes: see
:mod:`.passes`). In float32 ``w + eps z - 2 eps z + eps z`` is not exactly ``w``: what is exact is that
every pass sees the identical z.
"""

from __future__ import annotations

import math

import numpy as np

from ...golden.queries import query_seed
from ..params import Params
from .passes import Pass

__all__ = ["ZOSGD", "NonFiniteLoss", "query_seed"]


class NonFiniteLoss(ArithmeticError):
    """A loss was NaN or infinite; the weights were restored to before the perturbation."""


class ZOSGD:
    def __init__(self, params: Params, source, *, eps: float = 1e-3, weight_decay: float = 0.0,
                 queries: int = 1, seed: int = 0):
        self.params, self.source = params, source
        self.eps, self.weight_decay, self.queries, self.seed = eps, weight_decay, queries, seed
        self.last_grads: list[float] = []
        self.last_queries: list = []

    @property
    def name(self) -> str:
        return self.source.name

    def step(self, loss_fn, step: int, lr: float) -> float:
        """One ZO-SGD step at learning rate ``lr``; ``loss_fn()`` evaluates the current batch.
        Returns the mean of the 2q losses."""
        eps, q = self.eps, self.queries
        queries = self.step_queries(step)
        decay = 1.0 - lr * self.weight_decay if self.weight_decay else None
        grads, losses = [], []
        for query in queries:
            self._apply(query, Pass(a=eps))
            plus = loss_fn()
            self._apply(query, Pass(a=-2.0 * eps))
            minus = loss_fn()
            if not (math.isfinite(plus) and math.isfinite(minus)):
                self._apply(query, Pass(a=eps))
                raise NonFiniteLoss(f"loss is {plus if not math.isfinite(plus) else minus} "
                                    "at a perturbed point (+eps or -eps)")
            g = (plus - minus) / (2.0 * eps)
            grads.append(g)
            losses += [plus, minus]
            if q == 1:
                self._apply(query, Pass(a=eps, decay=decay, b=-lr * g))
            else:
                self._apply(query, Pass(a=eps))
        if q > 1:
            for i, (query, g) in enumerate(zip(queries, grads)):
                self._apply(query, Pass(decay=decay if i == 0 else None, b=-lr * g / q))
        self.last_grads, self.last_queries = grads, queries
        return sum(losses) / len(losses)

    def step_queries(self, step: int) -> list:
        """The ``queries`` perturbations of step ``step`` (seeds and stream positions: nothing stored)."""
        return [self.source.query(step * self.queries + i, query_seed(self.seed, step, i)) for i in range(self.queries)]

    def _apply(self, query, op: Pass) -> None:
        self.source.apply(self.params.data, query, op)
        self.params.updated()

    def flush(self) -> None:
        """Nothing is ever left due here (see :class:`~.zo_fused.FusedZOSGD`)."""

    def state_dict(self) -> dict:
        return {"queries": self.queries, "eps": self.eps, "weight_decay": self.weight_decay, "seed": self.seed}

    def arrays(self) -> dict[str, np.ndarray]:
        return {}                                   # nothing but seeds: that is the point

    def load(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        pass
