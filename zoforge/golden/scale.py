"""Scaling stage of the PeZO chain: uniform codes to perturbation codes (PeZO's "adaptive scaling").

Formats. The input ``u`` is a uniform code, Q0.(bits-1): value ``u / 2**(bits-1)`` in [-1, 1). The
output ``z`` is signed Q1.(bits-2) with the same ``bits``: value ``z / 2**(bits-2)`` in [-2, 2). The
factor is ``s = q / 2**sfrac`` with an integer ``q`` in [1, 2**(sfrac+1)), so 0 < s < 2, and

    z = (u * q + 2**sfrac) >> (sfrac + 1)        arithmetic shift: round half up

(one output LSB is two input LSBs, hence the extra shift).

No overflow. With b = bits, f = sfrac, -2**(b-1) <= u <= 2**(b-1) - 1 and 1 <= q <= 2**(f+1) - 1:
the largest ``u*q + 2**f`` is (2**(b-1)-1)(2**(f+1)-1) + 2**f = 2**(b+f) - 2**(b-1) - 2**f + 1
< 2**(b+f), so z <= 2**(b-1) - 1; the smallest is -2**(b-1)(2**(f+1)-1) + 2**f > -2**(b+f), so
z >= -2**(b-1). The tests check both corners for every (bits, sfrac).

Modes (``scale`` of the pezo spec):

* ``none``:  q = 2**sfrac, s = 1 (the uniform itself, variance 1/3).
* ``sqrt3``: q = round(sqrt(3) * 2**sfrac), unit variance. A constant: the gateware adds shifted
  copies of u, one per canonical-signed-digit term of q (:func:`csd`), no multiplier.
* ``norm``:  q is a runtime register. The host sets it per tensor to ``tensor_scale`` so that the
  tensor's perturbation has the norm a standard Gaussian vector of that length has on average,
  ``s = E||g_n|| / ||u||`` with ``E||g_n|| = sqrt(2) Gamma((n+1)/2) / Gamma(n/2)``
  (our choice; PeZO's own formula is not public: docs/references.md#pezo-adaptive-scaling). A factor that would
  reach 2 is clamped to the largest q.
* ``fold``:  the codes of ``sqrt3``; the norm-matching factor is not applied here but multiplied, as a
  real number f (:func:`fold_from_sumsq`), into the scalars the host already uses for the tensor: the
  perturbation is ``f * z``. Same clamp as ``norm``: f*q stays in :func:`q_limits`.

Members
-------
csd(q)                      canonical-signed-digit terms [(shift, +1|-1), ...] of q
sqrt3_q(sfrac)              round(sqrt(3) * 2**sfrac)
q_limits(sfrac)             (1, 2**(sfrac+1) - 1), the allowed q
gaussian_norm(n)            E||g|| for g ~ N(0, I_n)
norm_q(sumsq, n, bits, sfrac)   the q that gives n codes with sum of squares ``sumsq`` the norm E||g_n||
fold_from_sumsq(sumsq, n, q, bits, sfrac)   the real f that gives n output codes (made with q) that norm
sum_squares(codes)          exact sum of squares (Python int) of an integer array
scale_codes(u, q, sfrac)    the scaling itself, vectorised (new int64 array)
scale_inplace(u, q, sfrac)  the same, in place (the fast path)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["csd", "sqrt3_q", "q_limits", "gaussian_norm", "norm_q", "fold_from_sumsq", "sum_squares",
           "scale_codes", "scale_inplace"]


def csd(q: int) -> list[tuple[int, int]]:
    """Canonical signed digits of ``q > 0``: (shift, sign) pairs with sum(sign << shift) == q and no
    two adjacent shifts (the fewest adders for a constant multiply)."""
    if q <= 0:
        raise ValueError(f"csd: q={q} must be positive")
    terms, shift = [], 0
    while q:
        if q & 1:
            digit = 2 - (q & 3)            # +1 when q = 1 mod 4, -1 when q = 3 mod 4
            terms.append((shift, digit))
            q -= digit
        q >>= 1
        shift += 1
    return terms


def sqrt3_q(sfrac: int) -> int:
    return round(math.sqrt(3) * (1 << sfrac))


def q_limits(sfrac: int) -> tuple[int, int]:
    return 1, (1 << (sfrac + 1)) - 1


def gaussian_norm(n: int) -> float:
    """Expected Euclidean norm of an n-dimensional standard Gaussian vector."""
    if n < 1:
        raise ValueError(f"gaussian_norm: n={n} must be >= 1")
    return math.sqrt(2.0) * math.exp(math.lgamma((n + 1) / 2) - math.lgamma(n / 2))


def norm_q(sumsq: int, n: int, bits: int, sfrac: int) -> int:
    """q such that s * ||u|| = E||g_n|| for n uniform codes (Q0.(bits-1)) with sum of squares
    ``sumsq``, rounded to ``sfrac`` fraction bits and clamped to :func:`q_limits`."""
    lo, hi = q_limits(sfrac)
    if sumsq <= 0:
        return hi
    s = gaussian_norm(n) * (1 << (bits - 1)) / math.sqrt(sumsq)
    return min(hi, max(lo, round(s * (1 << sfrac))))


def fold_from_sumsq(sumsq: int, n: int, q: int, bits: int, sfrac: int) -> float:
    """f such that f * ||z|| = E||g_n|| for n output codes z (sQ1.(bits-2), made with scale numerator
    q) whose squares sum to ``sumsq``; clamped so that f*q stays in :func:`q_limits`."""
    lo, hi = q_limits(sfrac)
    if sumsq <= 0:
        return hi / q
    f = gaussian_norm(n) * (1 << (bits - 2)) / math.sqrt(sumsq)
    return min(hi / q, max(lo / q, f))


def sum_squares(codes: np.ndarray) -> int:
    """Exact sum of squares of integer codes below 2**24 in magnitude (blocks keep int64 exact)."""
    c = np.asarray(codes).reshape(-1).astype(np.int64)
    total = 0
    for i in range(0, len(c), 1 << 14):                  # 2**14 * 2**46 < 2**63
        block = c[i:i + (1 << 14)]
        total += int(np.dot(block, block))
    return total


def scale_inplace(u: np.ndarray, q: int, sfrac: int) -> np.ndarray:
    """``u <- (u * q + 2**sfrac) >> (sfrac + 1)`` in place and return u. The integer dtype of ``u``
    must hold 2**(bits+sfrac) (int32 suffices when bits + sfrac <= 31)."""
    lo, hi = q_limits(sfrac)
    if not lo <= q <= hi:
        raise ValueError(f"scale: q={q} must be in [{lo}, {hi}] for sfrac={sfrac}")
    np.multiply(u, q, out=u)
    np.add(u, 1 << sfrac, out=u)
    np.right_shift(u, sfrac + 1, out=u)
    return u


def scale_codes(u: np.ndarray, q: int, sfrac: int) -> np.ndarray:
    """``(u * q + 2**sfrac) >> (sfrac + 1)`` elementwise, as a new int64 array."""
    return scale_inplace(np.array(u, dtype=np.int64), q, sfrac)
