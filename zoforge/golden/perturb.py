"""Perturbation unit: ``w <- w + s * d`` with ``d = round(eps * z)`` and ``s`` in {+1, -1, -2, 0}.

Arithmetic (codes, see :mod:`zoforge.golden.fixed` for the rounding and overflow definitions).
Weights ``w`` are codes of ``w_format`` (sQ.w_frac), perturbations ``z`` codes of ``z_format``
(sQ.z_frac, the RNG chain's output format), and ``eps = eps_mul * 2**-eps_shift``. The delta, in
weight LSBs, is

    d = shift_round(eps_mul * z, k, rounding),   k = z_frac + eps_shift - w_frac,

and the unit outputs ``fit(w + s * d, w_format, overflow)``. ``eps_mul == 1`` is a pure shift (no
multiplier in the gateware).

Why the restore is exact. ``d`` depends on ``z`` only, never on ``w``, so when the RNG replays the
same ``z`` the MeZO sequence s = +1, -2, +1 adds ``d - 2d + d = 0`` in exact integer arithmetic: every
weight returns bit-identical, *unless a step overflowed*. A saturated step loses information (the
restore is then wrong); a wrapped step does not (the restore is exact modulo ``2**w_bits``, but the
perturbed weight was far off). Either way every overflowed weight is flagged (``sat``) and counted
(``sat_count`` in the gateware), never hidden. ``s = -1`` undoes a +1 step; ``s = 0`` passes weights
through.

Members
-------
PerturbSpec          the spec (kind ``perturb``); ``w_format``, ``z_format``, ``delta``, ``golden``
perturb_codes(spec, w, z, s) -> (w_out, sat)   the vectorised model
SCALES               the allowed values of ``s``
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import fit, overflowed, shift_round, signed_bits_for
from .spec import param, register
from .weight_stream import MAX_WORK_BITS, WeightStreamSpec

__all__ = ["PerturbSpec", "perturb_codes", "SCALES"]

SCALES = (1, -1, -2, 0)


@register
@dataclass(frozen=True, kw_only=True)
class PerturbSpec(WeightStreamSpec):
    """Streams ``lanes`` weights per cycle and adds ``s * round(eps * z)`` to each."""

    KIND = "perturb"
    SUMMARY = "perturbation unit: w + s*round(eps*z), s in {+1,-1,-2,0}, bit-exact restore, overflow flagged"

    eps_mul: int = param(1, lo=1, hi=(1 << 16) - 1, doc="eps = eps_mul * 2**-eps_shift; 1 means a pure shift")
    eps_shift: int = param(8, lo=0, hi=63, doc="eps = eps_mul * 2**-eps_shift")
    rounding: str = param("nearest_even", choices=("nearest_even", "half_up", "floor"),
                          doc="rounding of eps*z to weight LSBs (deterministic, so the restore is exact)")
    overflow: str = param("saturate", choices=("saturate", "wrap"),
                          doc="what an out-of-range weight does (always flagged)")
    count_bits: int = param(32, lo=1, hi=64, doc="width of the saturating overflow counter")

    def validate(self) -> None:
        top = self.eps_mul << (self.z_bits - 1)             # largest |eps_mul * z|
        if self.shift > 0 and top < 1 << self.shift:
            self.fail("eps_shift", f"makes |eps*z| < 1 weight LSB for every z; eps_shift must be <= "
                                   f"{self.eps_shift - self.shift + top.bit_length() - 1} for these formats")
        if self.delta_bits + 2 > MAX_WORK_BITS:
            self.fail("w_frac", f"needs a {self.delta_bits}-bit delta (eps*z in weight LSBs); "
                                f"lower w_frac or raise eps_shift so it stays within {MAX_WORK_BITS - 2} bits")

    @property
    def eps(self) -> float:
        return self.eps_mul * 2.0 ** -self.eps_shift

    @property
    def shift(self) -> int:
        """Right shift from ``eps_mul * z`` codes to weight LSBs (negative: left shift)."""
        return self.z_frac + self.eps_shift - self.w_frac

    @property
    def delta_bits(self) -> int:
        """Signed bits of ``d`` (enough for every z)."""
        lo, hi = self.eps_mul * self.z_format.min_code, self.eps_mul * self.z_format.max_code
        if self.shift <= 0:
            return signed_bits_for(lo << -self.shift, hi << -self.shift)
        return signed_bits_for(lo >> self.shift, (hi >> self.shift) + 1)   # rounding adds at most 1

    def delta(self, z) -> np.ndarray:
        """``d = round(eps * z)`` in weight LSBs for codes ``z``."""
        return shift_round(np.asarray(z, dtype=np.int64) * self.eps_mul, self.shift, self.rounding)

    def golden(self, w, z, s) -> tuple[np.ndarray, np.ndarray]:
        return perturb_codes(self, w, z, s)

    def create(self):
        from ..gen.perturb import Perturb
        return Perturb(self)


def perturb_codes(spec: PerturbSpec, w, z, s) -> tuple[np.ndarray, np.ndarray]:
    """``(w_out, sat)`` for weight codes ``w`` and perturbation codes ``z`` of the same shape
    (beats, lanes); ``s`` is a scalar or one value per beat. ``sat`` marks overflowed weights."""
    w = np.asarray(w, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    if not np.isin(s, SCALES).all():
        raise ValueError(f"perturb: s must be one of {SCALES}")
    if s.ndim == 1:
        s = s[:, None]
    raw = w + s * spec.delta(z)
    return fit(raw, spec.w_format, spec.overflow), overflowed(raw, spec.w_format)
