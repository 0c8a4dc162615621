"""MAC array: ``rows`` x ``lanes`` signed multipliers, output stationary.

Arrangement. Row ``r`` owns one accumulator (one output element stays in place while its reduction
streams through). The two operands are named for their roles: every beat brings ``lanes`` values of
the *per-row operand* for each row (``row[r, l]``, ``row_bits`` each) and ``lanes`` values of the
*broadcast operand* shared by all rows (``bcast[l]``, ``bcast_bits`` each); row ``r`` adds
``sum_l row[r, l] * bcast[l]``. A beat marked ``last`` ends the reduction: the ``rows`` sums leave as
one output word and the accumulators restart from zero. Which operand holds weights and which
activations is the user's choice: in ``Y = W @ X`` the rows of W are the per-row operand; the engine
(:mod:`zoforge.golden.engine`) instead broadcasts each weight word to a batch of input vectors.

Products. ``y = W @ x`` (matrix-vector) and ``Y = W @ X`` (matrix-matrix) are cut by
:func:`schedule` into beats: for each block of ``rows`` rows of W (the per-row operand), for each
column of X (the broadcast operand), the reduction dimension in chunks of ``lanes`` (zero-padded),
the last chunk marked ``last``. :func:`assemble` puts the output words back into Y.

Numerics. Operands are signed integers (int8, int16, ... any ``row_bits``/``bcast_bits``); products
and sums are exact. ``acc_bits`` is validated to hold any sum of ``max_len`` products
(:func:`zoforge.golden.fixed.accumulator_bits`), so every reduction of up to ``max_len`` elements is
the exact integer result. Longer reductions wrap modulo ``2**acc_bits`` (two's complement), in the
model exactly as in the gateware. With fixed-point operands the accumulator has the sum of the
operands' fraction bits; requantize it with :func:`zoforge.golden.fixed.requantize`.

Members
-------
MacSpec                          the spec (kind ``mac``); formats, ``multipliers``, ``golden``
matmul(W, X)                     the exact integer product (the reference)
schedule(spec, W, X) -> (row_beats (B, rows, lanes), bcast_beats (B, lanes), last (B,))
mac_stream(spec, row_beats, bcast_beats, last) -> (outputs, rows)    the beat-level model
assemble(spec, outputs, M, N) -> Y (M, N)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat, accumulator_bits, fit
from .spec import Spec, param, register

__all__ = ["MacSpec", "matmul", "schedule", "mac_stream", "assemble"]

MAX_LEN = 1 << 24


@register
@dataclass(frozen=True, kw_only=True)
class MacSpec(Spec):
    """``rows`` dot products of ``lanes`` products per cycle into ``acc_bits`` accumulators."""

    KIND = "mac"
    SUMMARY = "output-stationary MAC array: rows x lanes signed multipliers, exact accumulators, last-marked reductions"

    rows: int = param(4, lo=1, hi=64, doc="output elements computed in parallel (one accumulator each)")
    lanes: int = param(4, lo=1, hi=64, doc="products per row and cycle (reduction elements per beat)")
    row_bits: int = param(8, lo=2, hi=32, doc="bits of the per-row operand (signed; each row has its own)")
    bcast_bits: int = param(8, lo=2, hi=32, doc="bits of the broadcast operand (signed; shared by all rows)")
    acc_bits: int = param(32, lo=2, hi=64, doc="accumulator bits (signed)")
    max_len: int = param(4096, lo=1, hi=MAX_LEN, doc="longest reduction that must be exact (elements)")

    def validate(self) -> None:
        need = self.needed_acc_bits
        if self.acc_bits < need:
            self.fail("acc_bits", f"is too small for max_len={self.max_len} products of {self.row_bits}-bit x "
                                  f"{self.bcast_bits}-bit operands; acc_bits must be >= {need}")

    @property
    def row_format(self) -> FixedFormat:
        return FixedFormat(self.row_bits, 0)

    @property
    def bcast_format(self) -> FixedFormat:
        return FixedFormat(self.bcast_bits, 0)

    @property
    def acc_format(self) -> FixedFormat:
        return FixedFormat(self.acc_bits, 0)

    @property
    def out_format(self) -> FixedFormat:
        return self.acc_format

    @property
    def outputs_per_cycle(self) -> int:
        return self.rows

    @property
    def needed_acc_bits(self) -> int:
        return accumulator_bits(self.row_format, self.bcast_format, self.max_len)

    @property
    def multipliers(self) -> int:
        return self.rows * self.lanes

    def golden(self, row_beats, bcast_beats, last) -> np.ndarray:
        return mac_stream(self, row_beats, bcast_beats, last)

    def create(self):
        from ..gen.mac import Mac
        return Mac(self)


def matmul(W, X) -> np.ndarray:
    """Exact ``W @ X`` of integer arrays (int64; exact while every sum fits 63 bits)."""
    return np.asarray(W, dtype=np.int64) @ np.asarray(X, dtype=np.int64)


def _columns(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.int64)
    return X[:, None] if X.ndim == 1 else X


def schedule(spec: MacSpec, W, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The beats that compute ``W @ X`` (X a vector or a matrix); see the module docstring."""
    W, X = np.asarray(W, dtype=np.int64), _columns(X)
    (M, K), N = W.shape, X.shape[1]
    if X.shape[0] != K:
        raise ValueError(f"mac: W is {M}x{K} but X has {X.shape[0]} rows")
    mb, kb = -(-M // spec.rows), -(-K // spec.lanes)
    Wp = np.zeros((mb * spec.rows, kb * spec.lanes), dtype=np.int64)
    Wp[:M, :K] = W
    Xp = np.zeros((kb * spec.lanes, N), dtype=np.int64)
    Xp[:K] = X
    row_tiles = Wp.reshape(mb, spec.rows, kb, spec.lanes).transpose(0, 2, 1, 3)   # (mb, kb, rows, lanes)
    bcast_tiles = Xp.reshape(kb, spec.lanes, N).transpose(2, 0, 1)                # (N, kb, lanes)
    row_beats = np.broadcast_to(row_tiles[:, None], (mb, N, kb, spec.rows, spec.lanes))
    bcast_beats = np.broadcast_to(bcast_tiles[None], (mb, N, kb, spec.lanes))
    last = np.zeros((mb, N, kb), dtype=bool)
    last[..., -1] = True
    return (row_beats.reshape(-1, spec.rows, spec.lanes).copy(), bcast_beats.reshape(-1, spec.lanes).copy(),
            last.reshape(-1))


def mac_stream(spec: MacSpec, row_beats, bcast_beats, last) -> np.ndarray:
    """Output words (one per ``last`` beat) of the beat stream, wrapped to ``acc_bits``."""
    row_beats, bcast_beats = np.asarray(row_beats, dtype=np.int64), np.asarray(bcast_beats, dtype=np.int64)
    last = np.asarray(last, dtype=bool)
    ends = np.flatnonzero(last)
    if len(ends) == 0:
        return np.zeros((0, spec.rows), dtype=np.int64)
    sums = np.einsum("brl,bl->br", row_beats[:ends[-1] + 1], bcast_beats[:ends[-1] + 1])
    starts = np.concatenate([[0], ends[:-1] + 1])
    return fit(np.add.reduceat(sums, starts, axis=0), spec.acc_format, "wrap")


def assemble(spec: MacSpec, outputs, M: int, N: int) -> np.ndarray:
    """Y (M, N) from the output words of :func:`schedule`'s beats."""
    mb = -(-M // spec.rows)
    out = np.asarray(outputs, dtype=np.int64).reshape(mb, N, spec.rows)
    return out.transpose(0, 2, 1).reshape(mb * spec.rows, N)[:M]
