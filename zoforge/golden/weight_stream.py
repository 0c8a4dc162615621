"""What the perturbation and update units share: a stream of ``lanes`` weight codes per cycle, each
with its perturbation code, in two fixed-point formats.

Members: :class:`WeightStreamSpec` (fields ``lanes``, ``w_bits``, ``w_frac``, ``z_bits``, ``z_frac``
and the formats), :data:`MAX_WORK_BITS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fixed import FixedFormat
from .spec import Spec, param

__all__ = ["WeightStreamSpec", "MAX_WORK_BITS"]

MAX_WORK_BITS = 62      # every intermediate stays an exact int64 in the golden models


@dataclass(frozen=True, kw_only=True)
class WeightStreamSpec(Spec):
    """Base of the specs whose block streams weights (``w_format``) with perturbations (``z_format``)."""

    lanes: int = param(8, lo=1, hi=64, doc="weights per cycle")
    w_bits: int = param(16, lo=2, hi=32, doc="weight bits (signed)")
    w_frac: int = param(12, lo=0, hi=48, doc="weight fraction bits")
    z_bits: int = param(16, lo=2, hi=32, doc="perturbation bits (signed), the RNG chain's output")
    z_frac: int = param(14, lo=0, hi=48, doc="perturbation fraction bits (PeZO sQ1: bits-2; Gaussian sQ3: bits-4)")

    @property
    def w_format(self) -> FixedFormat:
        return FixedFormat(self.w_bits, self.w_frac)

    @property
    def z_format(self) -> FixedFormat:
        return FixedFormat(self.z_bits, self.z_frac)

    @property
    def out_format(self) -> FixedFormat:
        return self.w_format

    @property
    def outputs_per_cycle(self) -> int:
        return self.lanes
