"""The contract every random-number source block fulfils (LFSR, uniform, Gaussian, PeZO chains).

A source spec is the one parameter object of its block. It offers the golden model
(:meth:`SourceSpec.golden`), the gateware (:meth:`SourceSpec.create`, an Amaranth component) and the
seed vector that makes both restart from a given seed (:meth:`SourceSpec.seed_vector`).

Gateware contract, checked by the tests for every kind:

* ``o``: output stream, payload ``ArrayLayout(shape, outputs_per_cycle)`` where ``shape`` follows
  ``out_format``. Its transferred words equal ``golden(count)`` row for row, whatever the
  back-pressure.
* ``seed``: input stream whose payload is ``seed_vector(seed)``. A transfer on ``seed`` flushes any
  words in flight; the next words out are ``golden(count, seed=seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat
from .spec import Spec

__all__ = ["SourceSpec", "output_array"]


@dataclass(frozen=True, kw_only=True)
class SourceSpec(Spec):

    @property
    def outputs_per_cycle(self) -> int:
        raise NotImplementedError

    @property
    def out_format(self) -> FixedFormat:
        raise NotImplementedError

    @property
    def code_dtype(self):
        """The narrowest integer type the host renders this source's codes in."""
        return np.int16 if self.out_format.bits <= 16 else np.int32

    def golden(self, count: int, *, seed: int | None = None) -> np.ndarray:
        """The first ``count`` output words as an int64 array (count, outputs_per_cycle)."""
        raise NotImplementedError

    def seed_vector(self, seed: int) -> list[int]:
        """Payload of the ``seed`` stream that restarts the block as ``golden(seed=seed)``."""
        raise NotImplementedError

    def create(self):
        """The Amaranth component of this block."""
        raise NotImplementedError


def output_array(kind: str, length: int, dtype, out=None):
    """The destination of a host rendering of ``length`` numbers: ``out`` checked (contiguous, 1-D, that
    dtype and length) or a new array; errors name ``kind``."""
    if length < 0:
        raise ValueError(f"{kind}: length={length} must be >= 0")
    if out is None:
        return np.empty(length, dtype=dtype)
    if out.shape != (length,) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"{kind}: out must be a contiguous 1-D {np.dtype(dtype)} array of length {length}")
    return out
