"""Matmul backends: every matrix product of GPT-2's forward and backward goes through one of these.

A backend computes ``C = A @ B`` (or ``C += A @ B`` for gradient accumulation) for 2-D float32 arrays,
and keeps per-tag accounting of calls, FLOPs and seconds so users can see where time goes and what
fraction of the work an accelerator took. ``A`` and ``B`` may be transposed views; a backend that
needs a particular layout makes it itself.

Backends: ``cpu`` (numpy / OpenBLAS) here; the NPU work adds ``npu-emu`` and ``npu``.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MatmulBackend", "CpuBackend", "MatmulStats"]


@dataclass
class MatmulStats:
    calls: int = 0
    flops: float = 0.0
    seconds: float = 0.0
    offloaded_flops: float = 0.0      # FLOPs executed by an accelerator rather than the CPU fallback
    stacked_flops: float = 0.0        # of ``flops``: stacked products (attention), not GEMMs
    stacked_offloaded_flops: float = 0.0

    def add(self, other: "MatmulStats") -> None:
        self.calls += other.calls
        self.flops += other.flops
        self.seconds += other.seconds
        self.offloaded_flops += other.offloaded_flops
        self.stacked_flops += other.stacked_flops
        self.stacked_offloaded_flops += other.stacked_offloaded_flops


@dataclass
class MatmulBackend:
    """Base class: subclasses implement :meth:`_compute`; accounting lives here."""

    name: str = "abstract"
    stats: dict[str, MatmulStats] = field(default_factory=lambda: defaultdict(MatmulStats))
    #: the model's weights (a :class:`~zoforge.host.params.Params`), so a backend can tell a weight
    #: operand (converted once per :attr:`Params.version`) from an activation; see :meth:`bind_weights`
    weights: object = field(default=None, repr=False)

    def bind_weights(self, params) -> None:
        """The model names its weight vector before a pass; operands inside it are weights."""
        self.weights = params

    def matmul(self, a: np.ndarray, b: np.ndarray, *, out: np.ndarray | None = None,
               accumulate: bool = False, tag: str = "") -> np.ndarray:
        """``a @ b`` into ``out`` (allocated when None); with ``accumulate``, ``out += a @ b``."""
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not chain (need (M,K) @ (K,N))")
        if accumulate and out is None:
            raise ValueError("matmul: accumulate=True needs an `out` array to add into")
        start = time.perf_counter()
        result, offloaded = self._compute(a, b, out, accumulate)
        s = self.stats[tag]
        s.calls += 1
        flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
        s.flops += flops
        s.offloaded_flops += flops if offloaded else 0.0
        s.seconds += time.perf_counter() - start
        return result

    def matmul_batched(self, a: np.ndarray, b: np.ndarray, *, out: np.ndarray | None = None,
                       accumulate: bool = False, tag: str = "") -> np.ndarray:
        """Stacked products ``a[i] @ b[i]`` over equal leading dimensions (attention's B*H small
        matmuls), accounted as one call. Operands and ``out`` may be strided views."""
        if a.ndim < 3 or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not chain as stacks "
                             "(need (..., M, K) @ (..., K, N) with equal leading dimensions)")
        if accumulate and out is None:
            raise ValueError("matmul: accumulate=True needs an `out` array to add into")
        start = time.perf_counter()
        if out is None:
            out = np.empty(a.shape[:-1] + b.shape[-1:], dtype=np.result_type(a, b))
        offloaded = self._compute_batched(a, b, out, accumulate)
        s = self.stats[tag]
        s.calls += 1
        flops = 2.0 * math.prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1]
        s.flops += flops
        s.stacked_flops += flops
        s.offloaded_flops += flops if offloaded else 0.0
        s.stacked_offloaded_flops += flops if offloaded else 0.0
        s.seconds += time.perf_counter() - start
        return out

    def _compute(self, a, b, out, accumulate) -> tuple[np.ndarray, bool]:
        raise NotImplementedError

    def _compute_batched(self, a, b, out, accumulate) -> bool:
        # Default: one 2-D product per matrix, so a backend that implements only _compute works here.
        offloaded = False
        for idx in np.ndindex(*a.shape[:-2]):
            offloaded |= self._compute(a[idx], b[idx], out[idx], accumulate)[1]
        return offloaded

    def total(self) -> MatmulStats:
        t = MatmulStats()
        for s in self.stats.values():
            t.add(s)
        return t

    def summary(self) -> str:
        """One line: GEMM FLOPs offloaded out of all GEMM FLOPs, stacked (attention) products apart."""
        t = self.total()
        gemm, offloaded = t.flops - t.stacked_flops, t.offloaded_flops - t.stacked_offloaded_flops
        line = f"matmul {self.name}: offloaded {offloaded:.4g} of {gemm:.4g} GEMM FLOPs"
        line += f" ({100 * offloaded / gemm:.1f}%)" if gemm else ""
        if t.stacked_flops:
            line += (f"; attention's stacked products: {t.stacked_offloaded_flops:.3g} of {t.stacked_flops:.3g} "
                     f"FLOPs offloaded")
        return line

    def reset_stats(self) -> None:
        self.stats.clear()


@dataclass
class CpuBackend(MatmulBackend):
    """numpy (OpenBLAS) fp32 matmuls."""

    name: str = "cpu"

    def _compute(self, a, b, out, accumulate):
        if accumulate:
            out += a @ b
            return out, False
        if out is None:
            return a @ b, False
        np.matmul(a, b, out=out)
        return out, False

    def _compute_batched(self, a, b, out, accumulate):
        if accumulate:
            out += np.matmul(a, b)
        else:
            np.matmul(a, b, out=out)
        return False
