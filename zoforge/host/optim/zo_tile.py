"""ZO-SGD with the weight matrices perturbed inside the NPU's tiles (a ``gemm:...,perturb=PRESET`` design).

The reference step (:class:`~.zo.ZOSGD`) perturbs the whole weight vector on the host before each
forward, so with an NPU every weight matrix is converted to bf16 and sent again after every pass. Here the
matrices -- ``wte`` and each layer's ``qkvw``, ``attprojw``, ``fcw``, ``fcprojw``: every GEMM weight, 99%
of GPT-2's parameters -- are never perturbed on the host. They stay resident on the device in bf16, and
for each matmul the host sends only a :class:`~zoforge.npu.perturb.PerturbCall` (seed, stream position,
q, a) from which the tiles make ``W + a z`` themselves. What the host still does in a step:

* the small tensors (biases, LayerNorm, ``wpe``) are perturbed, restored and updated in place, exactly as
  ZOSGD does;
* the embedding rows of the batch's tokens are perturbed as they are gathered (:meth:`embedding`), with
  the arithmetic of a host pass;
* one update pass over the matrices, after which their bf16 copies are converted once.

Different from ZOSGD by construction: a matrix is read as ``RNE(bf16(w) + a z)`` with a = +eps and then
-eps from the same ``w`` (ZOSGD reads bf16 of ``w + eps z`` and of ``(w + eps z) - 2 eps z``), and it is
never restored, so the float32 error of the restore is gone. Where ``w`` is bf16-exact, a forward equals
the unfused ``npu-emu`` forward of host-perturbed weights bit for bit (tests/host/test_optim_tile.py).
"""

from __future__ import annotations

import math

import numpy as np

from ...golden.pezo import PezoSpec
from ...golden.spec import SpecError
from .passes import Pass
from .spec_z import SpecPerturbation
from .zo import ZOSGD, NonFiniteLoss

__all__ = ["TileZOSGD", "TILE_TENSORS", "tile_pezo"]

#: The tensors every use of which is a GEMM weight (``wte`` also feeds the embedding: see :meth:`embedding`).
TILE_TENSORS = frozenset({"wte", "qkvw", "attprojw", "fcw", "fcprojw"})


def tile_pezo(backend) -> PezoSpec | None:
    """The PeZO chain the backend's tiles perturb with (None: the design has perturb=none or no tiles)."""
    spec = getattr(backend, "spec", None)
    return getattr(spec, "pezo", None)


def _root(name: str) -> str:
    return name.partition("[")[0]


class TileZOSGD(ZOSGD):
    def __init__(self, params, source, backend, **kw):
        super().__init__(params, source, **kw)
        pezo = tile_pezo(backend)
        if pezo is None:
            raise SpecError(f"matmul: {getattr(backend, 'spec', backend)} does not perturb in its tiles (perturb=none)")
        if not isinstance(source, SpecPerturbation) or source.spec.replace(refresh=pezo.refresh) != pezo:
            raise SpecError(f"--perturb={source.name}: the design {backend.spec} perturbs in its tiles with "
                            f"{backend.spec.perturb}; use --perturb {backend.spec.perturb} (refresh may differ)")
        self.backend = backend
        segs = source.layout.segments
        tile = [k for k, s in enumerate(segs) if _root(s.name) in TILE_TENSORS]
        host = [k for k in range(len(segs)) if k not in set(tile)]
        self._tile_at = {segs[k].start: k for k in tile}
        self._tile_units = [u for k in tile for u in source.segment_units[k]]
        self._host_units = [u for k in host for u in source.segment_units[k]]
        self._tile_names = sorted({_root(segs[k].name) for k in tile})
        self._host_names = sorted({_root(segs[k].name) for k in host})
        self._wte = next(k for k, s in enumerate(segs) if s.name == "wte")
        self._at = None                 # (query, a) of the forward in progress

    # ---- passes on the host ---------------------------------------------------------------------
    def host_pass(self, query, op: Pass) -> None:
        """``op`` on the tensors the host keeps perturbed in place (not the matrices)."""
        self.source.apply_units(self.params.data, [(query, op)], self._host_units)
        self.params.updated(self._host_names)

    def _update(self, query, op: Pass) -> None:
        """An update (no perturbation term) of every tensor; the matrices' device copies go stale."""
        self.source.apply_units(self.params.data, [(query, op)], self._host_units + self._tile_units)
        self.params.updated()

    # ---- a forward at w + a z ---------------------------------------------------------------------
    def forward(self, loss_fn, query, a: float) -> float:
        """``loss_fn()`` with the matrices read as ``w + a z`` (in the tiles, and in the embedding's
        rows); the host's tensors are read as they are now (see :meth:`host_pass`)."""
        previous = self.params.lazy
        self._at = (query, a)
        self.backend.tile_perturbation = self._call
        self.params.lazy = self
        try:
            return loss_fn()
        finally:
            self._at = None
            self.backend.tile_perturbation = None
            self.params.lazy = previous

    def _call(self, offset: int, rows: int, cols: int):
        """The tiles' perturbation of the matrix at ``offset`` (rows x cols) in this forward."""
        from ...npu.perturb import PerturbCall
        k = self._tile_at.get(offset)
        if k is None:
            return None
        seg = self.source.layout.segments[k]
        valid = seg.length // cols          # wte's padded vocabulary rows are read (zero logits), not perturbed
        if seg.length % cols or not (rows == valid or (k == self._wte and rows > valid)):
            raise ValueError(f"tile perturbation: a {rows}x{cols} operand at the start of {seg.name} "
                             f"({seg.length} elements) is not the whole tensor")
        query, a = self._at
        return PerturbCall(seed=query.seed, start=query.start + self.source.offsets[k], q=query.q(k),
                           a=query.pass_for(k, Pass(a=a)).a, n_valid=valid if rows > valid else None)

    # the params.lazy protocol of the model: nothing is due; the embedding reads perturbed rows
    def ready(self, *names: str) -> None:
        pass

    def embedding(self, table: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``tokens`` as ``w + a z`` (float32(z*a) added, as a host pass does) and the tokens
        renumbered into them."""
        query, a = self._at
        k, width = self._wte, table.shape[1]
        rows, ids = np.unique(tokens, return_inverse=True)
        out = table[rows]
        z = np.stack([self.source.values(query, k, int(r) * width, width) for r in rows])
        out += np.multiply(z, query.pass_for(k, Pass(a=a)).a, dtype=np.float32)
        return out, ids.reshape(tokens.shape)

    # ---- the step ----------------------------------------------------------------------------------
    def step(self, loss_fn, step: int, lr: float) -> float:
        eps, q = self.eps, self.queries
        queries = self.step_queries(step)
        decay = 1.0 - lr * self.weight_decay if self.weight_decay else None
        grads, losses = [], []
        for query in queries:
            self.host_pass(query, Pass(a=eps))
            plus = self.forward(loss_fn, query, eps)
            self.host_pass(query, Pass(a=-2.0 * eps))
            minus = self.forward(loss_fn, query, -eps)
            self.host_pass(query, Pass(a=eps))
            if not (math.isfinite(plus) and math.isfinite(minus)):
                raise NonFiniteLoss(f"loss is {plus if not math.isfinite(plus) else minus} "
                                    "at a perturbed point (+eps or -eps)")
            g = (plus - minus) / (2.0 * eps)
            grads.append(g)
            losses += [plus, minus]
        for i, (query, g) in enumerate(zip(queries, grads)):
            self._update(query, Pass(decay=decay if i == 0 else None, b=-lr * g / q))
        self.last_grads, self.last_queries = grads, queries
        return sum(losses) / len(losses)
