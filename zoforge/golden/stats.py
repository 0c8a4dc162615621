"""Quality statistics of Gaussian (or Gaussian-replacing) number streams.

Members
-------
quality(values)          dict: count, mean, variance, kurtosis (plain, N(0,1) gives 3), max_abs,
                         ks (Kolmogorov-Smirnov distance to N(0, 1)).
ks_normal(values)        the KS distance alone.
max_abs_reachable(spec)  largest |z| a Gaussian spec can output, from its construction.

The KS distance is exact for the discrete empirical distribution: N(0, 1) is continuous, so the
supremum of |F_n - Phi| is reached just before or at one of the distinct values, and only those
values need Phi (math.erf each, so fixed-point streams with few distinct codes are cheap).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["quality", "ks_normal", "max_abs_reachable"]


def ks_normal(values: np.ndarray) -> float:
    """sup_x |F_n(x) - Phi(x)| for the empirical distribution F_n of ``values``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("ks_normal: no values")
    distinct, counts = np.unique(v, return_counts=True)
    after = np.cumsum(counts) / v.size                   # F_n at each distinct value
    before = after - counts / v.size                     # F_n just below it
    phi = np.array([0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) for x in distinct])
    return float(max(np.max(np.abs(after - phi)), np.max(np.abs(before - phi))))


def quality(values: np.ndarray) -> dict:
    """Moments, largest magnitude and KS distance of real-valued samples (use
    ``spec.out_format.to_float(codes)`` for fixed-point codes). ``kurtosis`` is the plain
    (Pearson) kurtosis E[(x-mean)^4]/var^2, 3 for a Gaussian; variance is the population one."""
    v = np.asarray(values, dtype=np.float64).ravel()
    mean = float(v.mean())
    d = v - mean
    var = float(np.mean(d * d))
    return {
        "count": int(v.size),
        "mean": mean,
        "variance": var,
        "kurtosis": float(np.mean(d ** 4) / var ** 2) if var > 0 else float("nan"),
        "max_abs": float(np.max(np.abs(v))),
        "ks": ks_normal(v),
    }


def max_abs_reachable(spec) -> float:
    """Largest |z| of a ``gaussian`` spec, from its construction (not sampled).

    clt: every term at an extreme (|T| = n(N-1)); icdf: the x = 0 segment (tail probability
    2**-(ubits+1)), reachable with the negative sign even where the LFSR skips the all-zero word."""
    if getattr(spec, "KIND", None) != "gaussian":
        raise TypeError(f"max_abs_reachable: needs a gaussian spec, got {spec!r}")
    if spec.method == "clt":
        code = spec.clt_code_bound
    else:
        code = int(spec.table.magnitude(np.zeros(1, dtype=np.int64))[0])
    return code * spec.out_format.lsb
