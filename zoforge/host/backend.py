"""Matmul backends: every matrix product of GPT-2's forward and backward goes through one of these.

A backend computes ``C = A @ B`` (or ``C += A @ B`` for gradient accumulation) for 2-D float32 arrays,
and keeps per-tag accounting of calls, FLOPs and seconds so users can see where time goes and what
fraction of the work an accelerator took. ``A`` and ``B`` may be transposed views; a backend that
needs a particular layout makes it itself.

Backends: ``cpu`` (numpy / OpenBLAS) here; the NPU work adds ``npu-emu`` and ``npu``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MatmulBackend", "CpuBackend", "MatmulStats", "get_backend", "register_backend"]


@dataclass
class MatmulStats:
    calls: int = 0
    flops: float = 0.0
    seconds: float = 0.0
    offloaded_flops: float = 0.0      # FLOPs executed by an accelerator rather than the CPU fallback

    def add(self, other: "MatmulStats") -> None:
        self.calls += other.calls
        self.flops += other.flops
        self.seconds += other.seconds
        self.offloaded_flops += other.offloaded_flops


@dataclass
class MatmulBackend:
    """Base class: subclasses implement :meth:`_compute`; accounting lives here."""

    name: str = "abstract"
    stats: dict[str, MatmulStats] = field(default_factory=lambda: defaultdict(MatmulStats))

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

    def _compute(self, a, b, out, accumulate) -> tuple[np.ndarray, bool]:
        raise NotImplementedError

    def total(self) -> MatmulStats:
        t = MatmulStats()
        for s in self.stats.values():
            t.add(s)
        return t

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


_BACKENDS: dict[str, type[MatmulBackend]] = {"cpu": CpuBackend}


def register_backend(name: str, cls: type[MatmulBackend]) -> None:
    _BACKENDS[name] = cls


def get_backend(name: str, **options) -> MatmulBackend:
    if name not in _BACKENDS:
        raise ValueError(f"matmul: backend {name!r} is unknown; use one of {'|'.join(_BACKENDS)}")
    return _BACKENDS[name](**options)
