"""Setting the BLAS thread count at run time, through ``threadpoolctl``.

Small models run faster on one BLAS thread (thread start-up and, on a shared machine, waiting for a busy
core cost more than the matmuls); GPT-2 124M wants every core. ``OPENBLAS_NUM_THREADS`` only works
before NumPy is imported, so this asks the loaded BLAS libraries themselves (NumPy's OpenBLAS, and any
other BLAS loaded by then). With no BLAS that threadpoolctl knows, nothing happens and
:func:`blas_threads` returns None.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np  # noqa: F401  (loads NumPy's BLAS, so that it is found)

__all__ = ["blas_threads", "set_blas_threads", "using_blas_threads"]


def _blas():
    # threadpoolctl sets KMP_DUPLICATE_LIB_OK when imported; zoforge leaves the environment as it was
    kept = os.environ.get("KMP_DUPLICATE_LIB_OK")
    from threadpoolctl import ThreadpoolController
    if kept is None:
        os.environ.pop("KMP_DUPLICATE_LIB_OK", None)
    # a new controller each time: it sees the libraries loaded so far
    return ThreadpoolController().select(user_api="blas")


def blas_threads() -> int | None:
    libs = _blas().lib_controllers
    return libs[0].num_threads if libs else None


def set_blas_threads(n: int) -> int | None:
    """Set the thread count; returns the previous one (None when it cannot be set)."""
    blas = _blas()
    if not blas.lib_controllers:
        return None
    previous = blas.lib_controllers[0].num_threads
    blas.limit(limits=int(n))
    return previous


@contextmanager
def using_blas_threads(n: int | None):
    previous = set_blas_threads(n) if n else None
    try:
        yield
    finally:
        if previous is not None:
            set_blas_threads(previous)
