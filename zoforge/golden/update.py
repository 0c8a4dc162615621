"""Update unit: ``w <- w - round(c * z + lambda * w)``, the MeZO step with ``c = lr * g``.

MeZO updates ``w <- w - lr * (g * z + wd * w)``. The projected gradient times the learning rate,
``c = lr * g``, is one scalar per step: a runtime input (codes of ``c_format``, sampled with every
weight word). The decay factor ``lambda = lr * wd = decay_mul * 2**-decay_shift`` is a spec
constant (``decay_mul = 0``: no decay; ``1``: a pure shift); a per-word ``decay_en`` input switches it
off for tensors MeZO does not decay (biases, layer norms).

Arithmetic (codes; definitions of rounding and overflow in :mod:`zoforge.golden.fixed`). Both terms
are aligned exactly to ``F`` fraction bits, ``F = max(c_frac + z_frac, w_frac + decay_shift)``
(``c_frac + z_frac`` without decay), summed, and rounded *once* to weight LSBs:

    u     = shift_round(c * z * 2**(F - c_frac - z_frac)
                        + decay_en * decay_mul * w * 2**(F - w_frac - decay_shift),  k, rounding, r)
    w_out = fit(w - u, w_format, overflow),      k = F - w_frac,

``sat`` marks the weights that overflowed. Stochastic rounding takes ``r`` from an LFSR of the
project's family (:class:`~zoforge.golden.lfsr.LFSRSpec`: ``lanes`` lanes of ``rng_width`` bits,
seeded with ``seed``): word ``i`` of lane ``l`` rounds lane ``l`` of weight word ``i``, and its top ``k``
bits are the offset (``k <= rng_width``). The LFSR advances once per weight word, so the host
replays the same rounding from the seed and the word count.

Members
-------
UpdateSpec                  the spec (kind ``update``); formats, ``shift``, ``random_bits``, ``golden``
update_codes(spec, w, z, c, decay_en=1, random_bits=None) -> (w_out, sat)   the vectorised model
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat, fit, overflowed, product_range, shift_round, signed_bits_for
from .lfsr import LFSRSpec, lfsr_words, seed_param, width_param
from .spec import param, register
from .weight_stream import MAX_WORK_BITS, WeightStreamSpec

__all__ = ["UpdateSpec", "update_codes"]



@register
@dataclass(frozen=True, kw_only=True)
class UpdateSpec(WeightStreamSpec):
    """Streams ``lanes`` weights per cycle and subtracts ``round(c * z + lambda * w)``."""

    KIND = "update"
    SUMMARY = "update unit: w - round(lr*g*z + lr*wd*w), nearest-even or LFSR stochastic rounding, overflow flagged"

    c_bits: int = param(16, lo=2, hi=32, doc="bits of the runtime scalar c = lr*g (signed)")
    c_frac: int = param(20, lo=0, hi=48, doc="fraction bits of c")
    rounding: str = param("nearest_even", choices=("nearest_even", "stochastic", "half_up", "floor"),
                          doc="rounding of the update to weight LSBs")
    decay_mul: int = param(0, lo=0, hi=(1 << 16) - 1, doc="lr*wd = decay_mul * 2**-decay_shift; 0 = no weight decay")
    decay_shift: int = param(16, lo=0, hi=48, doc="lr*wd = decay_mul * 2**-decay_shift")
    overflow: str = param("saturate", choices=("saturate", "wrap"),
                          doc="what an out-of-range weight does (always flagged)")
    count_bits: int = param(32, lo=1, hi=64, doc="width of the saturating overflow counter")
    rng_width: int = width_param("LFSR width for stochastic rounding")
    seed: int = seed_param("LFSR seed for stochastic rounding", "rng_width")

    def validate(self) -> None:
        top = (1 << self.rng_width) - 1
        if not 1 <= self.seed <= top:
            self.fail("seed", f"does not fit rng_width={self.rng_width}; seed must be in [1, {top}]")
        if self.rounding == "stochastic" and self.shift > self.rng_width:
            self.fail("rng_width", f"is too narrow: stochastic rounding drops {self.shift} bits; "
                                   f"rng_width must be >= {self.shift}")
        if self.shift > MAX_WORK_BITS:
            self.fail("w_frac", f"drops {self.shift} bits when rounding the update; raise w_frac so that "
                                f"c_frac+z_frac-w_frac <= {MAX_WORK_BITS}")
        if self.sum_bits > MAX_WORK_BITS:
            name = "decay_shift" if self.decay_mul and self.align_p else "c_bits"
            self.fail(name, f"makes the aligned update sum {self.sum_bits} bits wide; at most "
                            f"{MAX_WORK_BITS} are supported")

    # ---- formats and derived widths ----
    @property
    def c_format(self) -> FixedFormat:
        return FixedFormat(self.c_bits, self.c_frac)

    @property
    def frac(self) -> int:
        """F: fraction bits of the aligned sum."""
        f = self.c_frac + self.z_frac
        return max(f, self.w_frac + self.decay_shift) if self.decay_mul else f

    @property
    def align_p(self) -> int:
        """Left shift of ``c * z`` to ``F`` fraction bits."""
        return self.frac - self.c_frac - self.z_frac

    @property
    def align_q(self) -> int:
        """Left shift of ``decay_mul * w`` to ``F`` fraction bits."""
        return self.frac - self.w_frac - self.decay_shift

    @property
    def shift(self) -> int:
        """k: bits dropped when rounding the sum to weight LSBs (<= 0: exact)."""
        return self.frac - self.w_frac

    @property
    def sum_bits(self) -> int:
        """Signed bits of the aligned sum for every input."""
        lo, hi = [v << self.align_p for v in product_range(self.c_format, self.z_format)]
        if self.decay_mul:
            wlo, whi = self.decay_mul * self.w_format.min_code, self.decay_mul * self.w_format.max_code
            lo, hi = lo + (wlo << self.align_q), hi + (whi << self.align_q)
        return signed_bits_for(lo, hi)

    @functools.cached_property
    def lfsr(self) -> LFSRSpec:
        return LFSRSpec(width=self.rng_width, lanes=self.lanes, step=self.rng_width, seed=self.seed)

    @property
    def stochastic(self) -> bool:
        """Whether rounding consumes random bits (stochastic with bits to drop)."""
        return self.rounding == "stochastic" and self.shift > 0

    def seed_vector(self, seed: int) -> list[int]:
        return self.lfsr.lane_seeds(seed)

    def random_bits(self, count: int, *, seed: int | None = None, start: int = 0) -> np.ndarray | None:
        """The rounding offsets of weight words ``start .. start+count-1``: (count, lanes) int64, the top
        ``shift`` bits of the LFSR words; None when the rounding needs none."""
        if not self.stochastic:
            return None
        words = lfsr_words(self.lfsr, count, seed=seed, start=start)
        return (words >> np.uint64(self.rng_width - self.shift)).astype(np.int64)

    def golden(self, w, z, c, *, decay_en=1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(w_out, sat)`` for one stream of weight words, the LFSR starting from ``seed``."""
        return update_codes(self, w, z, c, decay_en, self.random_bits(len(np.asarray(w)), seed=seed))

    def create(self):
        from ..gen.update import Update
        return Update(self)


def _per_beat(v) -> np.ndarray:
    """A scalar, or one value per beat as a column that broadcasts over the lanes."""
    v = np.asarray(v, dtype=np.int64)
    return v[:, None] if v.ndim == 1 else v


def update_codes(spec: UpdateSpec, w, z, c, decay_en=1, random_bits=None) -> tuple[np.ndarray, np.ndarray]:
    """``(w_out, sat)`` for codes ``w``, ``z`` of shape (beats, lanes); ``c`` and ``decay_en`` are
    scalars or one value per beat; ``random_bits`` (beats, lanes) for stochastic rounding."""
    w = np.asarray(w, dtype=np.int64)
    z = np.asarray(z, dtype=np.int64)
    c = _per_beat(c)
    total = (c * z) << np.int64(spec.align_p)
    if spec.decay_mul:
        total = total + ((_per_beat(decay_en) * spec.decay_mul * w) << np.int64(spec.align_q))
    u = shift_round(total, spec.shift, spec.rounding, random_bits)
    raw = w - u
    return fit(raw, spec.w_format, spec.overflow), overflowed(raw, spec.w_format)
