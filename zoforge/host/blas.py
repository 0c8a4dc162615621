"""Setting the BLAS thread count at run time (NumPy's bundled OpenBLAS), without threadpoolctl.

Small models run faster on one BLAS thread (thread start-up and, on a shared machine, waiting for a busy
core cost more than the matmuls); GPT-2 124M wants every core. ``OPENBLAS_NUM_THREADS`` only works
before NumPy is imported, so this calls OpenBLAS's own setter through ctypes. Best effort: with another
BLAS nothing happens and :func:`blas_threads` returns None.
"""

from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager

import numpy as np

__all__ = ["blas_threads", "set_blas_threads", "using_blas_threads"]

_lib = None
_NAMES = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
          ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas():
    global _lib
    if _lib is None:
        _lib = False
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*.so*"))
        for path in libs:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for setter, getter in _NAMES:
                if hasattr(lib, setter) and hasattr(lib, getter):
                    _lib = (getattr(lib, setter), getattr(lib, getter))
                    break
            if _lib:
                break
    return _lib or None


def blas_threads() -> int | None:
    lib = _openblas()
    return int(lib[1]()) if lib else None


def set_blas_threads(n: int) -> int | None:
    """Set the thread count; returns the previous one (None when it cannot be set)."""
    lib = _openblas()
    if not lib:
        return None
    previous = int(lib[1]())
    lib[0](int(n))
    return previous


@contextmanager
def using_blas_threads(n: int | None):
    previous = set_blas_threads(n) if n else None
    try:
        yield
    finally:
        if previous is not None:
            set_blas_threads(previous)
