"""One elementwise pass of a zeroth-order step over (part of) the weight vector.

Every ZO operation is ``w <- (w + a*z) * d + b*z``: perturb (``a = +eps`` or ``-2 eps``), restore
(``a = +eps``), update (``d = 1 - lr*wd`` on decayed segments, ``b = -lr*g``), or restore and update
fused (both). Each product ``z*a`` is rounded to float32 before it is added, and the terms are applied in
that order, so a pass gives the same bits whether it runs on a whole segment, in chunks, or on threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Pass", "apply_pass", "SUB"]

#: Elements processed together by :func:`apply_pass` (two float32 buffers of this size stay in L2).
SUB = 1 << 16


@dataclass(frozen=True)
class Pass:
    a: float = 0.0                  # added first: w += a*z
    decay: float | None = None      # then decayed segments: w *= decay
    b: float = 0.0                  # last: w += b*z

    def touches(self, decayed: bool) -> bool:
        return bool(self.a) or bool(self.b) or (decayed and self.decay is not None)


def apply_pass(w: np.ndarray, z: np.ndarray, op: Pass, decayed: bool, tmp: np.ndarray) -> None:
    """Apply ``op`` to the float32 slice ``w`` given its perturbation ``z`` (same length); ``tmp`` is a
    scratch buffer at least that long."""
    t = tmp[:len(w)]
    if op.a:
        np.multiply(z, op.a, out=t)
        w += t
    if decayed and op.decay is not None:
        w *= op.decay
    if op.b:
        np.multiply(z, op.b, out=t)
        w += t
