"""Uniform fixed-point numbers in [-1, 1) from LFSR words.

Each lane's number is the top ``bits`` bits of that lane's LFSR word read as two's complement, so
``value = code / 2**(bits-1)``, code in [-2**(bits-1), 2**(bits-1) - 1]. Lanes are decorrelated the
way :mod:`zoforge.golden.lfsr` describes (disjoint stretches of one m-sequence, jump-ahead seeded),
and a lane's consecutive numbers come from disjoint bits (leap-forward by ``width`` steps).

Bias, documented rather than hidden: a full-period LFSR never shows the all-zero word, so when
``bits == width`` the code 0 appears once less than the others in a whole period (mean -2**-width
of an LSB); with ``bits < width`` every code is equally likely up to that single missing word.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat
from .lfsr import MAX_WIDTH, LFSRSpec, form_param, lfsr_words, poly_param, seed_param, width_param
from .source import SourceSpec
from .spec import param, register

__all__ = ["UniformSpec", "uniform_codes"]


@register
@dataclass(frozen=True, kw_only=True)
class UniformSpec(SourceSpec):
    """Signed fixed-point uniform numbers in [-1, 1), ``lanes`` per cycle."""

    KIND = "uniform"
    SUMMARY = "signed fixed-point uniforms in [-1, 1) from the top bits of leap-forward LFSR lanes"

    bits: int = param(16, lo=2, hi=MAX_WIDTH, doc="bits per number (sign included); <= width")
    lanes: int = param(8, lo=1, hi=256, doc="numbers per cycle")
    width: int = width_param()
    form: str = form_param()
    seed: int = seed_param()
    poly: int = poly_param()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "poly", self.lfsr.poly)

    def validate(self) -> None:
        if self.bits > self.width:
            self.fail("bits", f"exceeds width={self.width}; bits must be in [2, width]")
        _ = self.lfsr  # validates the LFSR parameters with their own messages

    @functools.cached_property
    def lfsr(self) -> LFSRSpec:
        return LFSRSpec(width=self.width, lanes=self.lanes, form=self.form, step=self.width,
                        seed=self.seed, poly=self.poly)

    @property
    def outputs_per_cycle(self) -> int:
        return self.lanes

    @property
    def out_format(self) -> FixedFormat:
        return FixedFormat(self.bits, self.bits - 1, signed=True)

    def golden(self, count: int, *, seed: int | None = None) -> np.ndarray:
        return uniform_codes(self, count, seed=seed)

    def seed_vector(self, seed: int) -> list[int]:
        return self.lfsr.lane_seeds(seed)

    def create(self):
        from ..gen.uniform import Uniform
        return Uniform(self)


def words_to_codes(words: np.ndarray, width: int, bits: int) -> np.ndarray:
    """Top ``bits`` bits of ``width``-bit words, as signed int64 codes."""
    top = (words >> np.uint64(width - bits)).astype(np.int64)
    return top - ((top >> (bits - 1)) << bits)


def uniform_codes(spec: UniformSpec, count: int, *, seed: int | None = None, start: int = 0) -> np.ndarray:
    """Codes for cycles ``start .. start+count-1``: int64 array (count, lanes)."""
    return words_to_codes(lfsr_words(spec.lfsr, count, seed=seed, start=start), spec.width, spec.bits)
