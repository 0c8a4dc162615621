"""The standard normal distribution in plain Python (no scipy): CDF and an accurate inverse.

Members
-------
norm_cdf(x)       Phi(x), from :func:`math.erfc` (accurate in both tails).
norm_tail(z)      Q(z) = 1 - Phi(z) = P(Z > z), accurate for large z.
norm_tail_inv(p)  z with Q(z) = p, for 0 < p < 1: Acklam's rational approximation (relative error
                  about 1e-9) refined by Newton steps on Q, which bring it to double precision.
norm_ppf(p)       Phi^-1(p) = -norm_tail_inv(p).

The ICDF Gaussian approximator builds its coefficient tables from :func:`norm_tail_inv`; the
quality statistics compare samples with :func:`norm_cdf`.
"""

from __future__ import annotations

import math

__all__ = ["norm_cdf", "norm_tail", "norm_tail_inv", "norm_ppf"]

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

# Acklam's coefficients: central region |p - 1/2| <= 1/2 - P_LOW, and the tail region.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)
_P_LOW = 0.02425


def _horner(coeffs, x: float) -> float:
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_tail(z: float) -> float:
    return 0.5 * math.erfc(z / _SQRT2)


def _acklam_ppf(p: float) -> float:
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        return _horner(_C, q) / (_horner(_D, q) * q + 1.0)
    if p > 1.0 - _P_LOW:
        q = math.sqrt(-2.0 * math.log1p(-p))
        return -_horner(_C, q) / (_horner(_D, q) * q + 1.0)
    q = p - 0.5
    r = q * q
    return _horner(_A, r) * q / (_horner(_B, r) * r + 1.0)


def norm_tail_inv(p: float) -> float:
    """z with P(Z > z) = p. Works on the tail probability directly so that tiny p keep full
    relative precision (1 - p would round to 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"norm_tail_inv: p={p} must be in (0, 1)")
    z = -_acklam_ppf(p)
    for _ in range(3):
        # Newton on Q(z) - p = 0, Q'(z) = -phi(z); the error is ~1e-9 to start, so three steps
        # reach the rounding floor even where phi is tiny.
        phi = math.exp(-0.5 * z * z) / _SQRT2PI
        if phi == 0.0:
            break
        z += (norm_tail(z) - p) / phi
    return z


def norm_ppf(p: float) -> float:
    return -norm_tail_inv(p)
