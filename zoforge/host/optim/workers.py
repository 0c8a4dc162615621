"""Worker threads for the elementwise passes over the flat parameter vector.

NumPy releases the GIL inside ufuncs on large arrays, so the chunks of a perturbation or AdamW pass run
in parallel on threads. Every chunk's result depends on its own elements only, never on which thread ran
it or in what order, so the results are bit-identical for any thread count. Each thread keeps its own
scratch buffers (allocated once, reused by every pass: fresh large temporaries cost page faults).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["Workers", "default_threads"]


def default_threads() -> int:
    """The BLAS thread setting if there is one, else the CPU count (at least 1)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        text = os.environ.get(var, "")
        if text.isdigit() and int(text) > 0:
            return int(text)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class Workers:
    def __init__(self, threads: int | None = None):
        self.threads = threads or default_threads()
        self._executor = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._local = threading.local()

    def scratch(self, name: str, size: int, dtype=np.float32) -> np.ndarray:
        """This thread's buffer ``name`` of at least ``size`` elements (a view of exactly ``size``)."""
        bufs = self._local.__dict__.setdefault("bufs", {})
        buf = bufs.get(name)
        if buf is None or len(buf) < size or buf.dtype != dtype:
            buf = bufs[name] = np.empty(size, dtype=dtype)
        return buf[:size]

    def run(self, fn, items) -> list:
        """``[fn(item) for item in items]``, spread over the threads; exceptions propagate."""
        items = list(items)
        if self._executor is None or len(items) < 2:
            return [fn(item) for item in items]
        return list(self._executor.map(fn, items))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
