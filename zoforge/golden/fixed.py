"""Fixed-point formats shared by every block.

A :class:`FixedFormat` says how an integer code maps to a real number: ``value = code / 2**frac``,
with ``bits`` total bits, two's complement when ``signed``. Blocks carry their output format with them
(``spec.out_format``) so a consumer never re-derives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FixedFormat"]


@dataclass(frozen=True)
class FixedFormat:
    bits: int
    frac: int
    signed: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 64:
            raise ValueError(f"fixed: bits={self.bits} must be in [1, 64]")
        if not 0 <= self.frac <= 64:
            raise ValueError(f"fixed: frac={self.frac} must be in [0, 64]")

    @property
    def int_bits(self) -> int:
        """Integer bits, not counting the sign bit."""
        return self.bits - self.frac - int(self.signed)

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    def to_float(self, codes) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}Q{self.int_bits}.{self.frac}"
