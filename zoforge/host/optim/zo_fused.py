"""ZO-SGD with the passes fused into the forward: the optimized variant of :class:`~.zo.ZOSGD`.

The reference :class:`~.zo.ZOSGD` sweeps the whole weight vector before each forward (+eps, -2eps) and
once more after it (restore and update): three extra trips through DRAM per step. Here each pass is only
*due* (:class:`~.lazy.LazyWeights` on ``params.lazy``) and the model applies it to each tensor right
before reading it (``GPT`` calls ``params.lazy.ready``). The restore and update of a step are applied by
the next forward, in the same sweep as the next query's +eps, so a step costs two sweeps, each over
weights the forward is about to read. Call :meth:`flush` before reading ``params.data`` directly
(checkpoints, comparisons); a forward of the model needs nothing.

Same log of passes, same order per element, same arithmetic: the weights equal ZOSGD's bit for bit
(tests/host/test_optim_fused.py).
"""

from __future__ import annotations

import math

from .lazy import LazyWeights
from .passes import Pass
from .zo import ZOSGD, NonFiniteLoss

__all__ = ["FusedZOSGD"]


class FusedZOSGD(ZOSGD):
    def __init__(self, params, source, **kw):
        super().__init__(params, source, **kw)
        self.lazy = LazyWeights(source, params.data)

    def _install(self) -> LazyWeights:
        """Make this optimizer's log the one the model reads (settling another optimizer's first)."""
        other = self.params.lazy
        if other is not None and other is not self.lazy:
            other.settle()
        self.params.lazy = self.lazy
        return self.lazy

    def _loss(self, loss_fn) -> float:
        value = loss_fn()
        if self.lazy.pending and math.isfinite(value):      # a non-finite loss is handled by the step
            self.lazy.settle()
            raise RuntimeError("fused ZO step: the loss function did not read every weight through the model "
                               "(params.lazy); use the reference ZOSGD for such a loss")
        return value

    def step(self, loss_fn, step: int, lr: float) -> float:
        eps, q, lazy = self.eps, self.queries, self._install()
        queries = self.step_queries(step)
        decay = 1.0 - lr * self.weight_decay if self.weight_decay else None
        grads, losses = [], []
        for query in queries:
            lazy.due(query, Pass(a=eps))
            plus = self._loss(loss_fn)
            lazy.due(query, Pass(a=-2.0 * eps))
            minus = self._loss(loss_fn)
            if not (math.isfinite(plus) and math.isfinite(minus)):
                lazy.due(query, Pass(a=eps))
                lazy.settle()
                raise NonFiniteLoss(f"loss is {plus if not math.isfinite(plus) else minus} "
                                    "at a perturbed point (+eps or -eps)")
            g = (plus - minus) / (2.0 * eps)
            grads.append(g)
            losses += [plus, minus]
            lazy.due(query, Pass(a=eps, decay=decay, b=-lr * g) if q == 1 else Pass(a=eps))
        if q > 1:
            for i, (query, g) in enumerate(zip(queries, grads)):
                lazy.due(query, Pass(decay=decay if i == 0 else None, b=-lr * g / q))
        self.last_grads, self.last_queries = grads, queries
        return sum(losses) / len(losses)

    def flush(self) -> None:
        """Apply the passes still due (the last restore and update): ``params.data`` is then current."""
        self.lazy.settle()
