"""BLAS thread control: the count NumPy's BLAS reports follows the setter and the context manager."""

import numpy as np
import pytest

from zoforge.host.blas import blas_threads, set_blas_threads, using_blas_threads


@pytest.fixture
def start():
    n = blas_threads()
    if n is None:
        pytest.skip("no BLAS library that threadpoolctl can control")
    yield n
    set_blas_threads(n)


def test_set_returns_the_previous_count_and_applies(start):
    assert set_blas_threads(1) == start
    assert blas_threads() == 1
    assert set_blas_threads(2) == 1 and blas_threads() == 2


def test_context_manager_restores(start):
    set_blas_threads(2)
    with using_blas_threads(1):
        assert blas_threads() == 1
        a = np.arange(64.0).reshape(8, 8)
        assert np.array_equal(a @ np.eye(8), a)
    assert blas_threads() == 2
    with using_blas_threads(None):              # None: leave the count alone
        assert blas_threads() == 2
