"""LFSR spec and its bit-exact, vectorised golden model.

Structure. ``lanes`` independent XOR LFSRs of ``width`` bits, all built from one primitive polynomial
(the tap catalogue or a user ``poly``). Every cycle each lane outputs its state and then advances by
``step`` single steps at once (leap-forward: the matrix ``A**step`` of the one-step map ``A``). With the
default ``step == width`` consecutive words of a lane share no bits.

Decorrelating lanes. Lane ``l`` starts ``(l + 1) * jump`` steps after the seed along the same
maximal-length sequence, ``jump`` being the largest number <= (2**width - 1) // (lanes + 1) that is
coprime with the period: the lanes are disjoint stretches of one m-sequence (independently seeded
generators, start states derived by the jump-ahead matrix ``A**jump``). Coprimality matters: for a
jump of exactly period/3, ``A**jump`` is a cube root of unity and lane 2 would equal lane 0 XOR
lane 1 in every cycle. Starting one jump past the seed also means a sparse seed such as 1 does not
give a run of near-zero words.

Seeds. A seed is a non-zero ``width``-bit word (zero is the lock-up state of an XOR LFSR and is
rejected). :meth:`LFSRSpec.lane_seeds` turns one seed into the per-lane start states; the gateware
loads such a vector through its ``seed`` stream, so the host can replay any seed (the MeZO seed trick).
A zero word in that vector loads the lane's reset state instead, so hardware can never lock up.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat
from .gf2 import Matrix, apply_tables, is_primitive, factorize
from .source import SourceSpec
from .spec import param, register, preset

__all__ = ["LFSRSpec", "tap_catalogue", "lfsr_words"]

MIN_WIDTH, MAX_WIDTH = 2, 64
_DATA = pathlib.Path(__file__).with_name("data") / "lfsr_taps.json"


@functools.cache
def tap_catalogue() -> dict[int, dict]:
    """width -> {"taps": [n, a, ...], "factors": [primes of 2^n-1]}; source cited in the JSON file."""
    raw = json.loads(_DATA.read_text())
    return {int(w): entry for w, entry in raw["widths"].items()}


def taps_to_poly(taps: list[int]) -> int:
    return sum(1 << t for t in taps) | 1


@register
@dataclass(frozen=True, kw_only=True)
class LFSRSpec(SourceSpec):
    """Parallel max-period LFSR: ``lanes`` words of ``width`` bits per cycle."""

    KIND = "lfsr"
    SUMMARY = "max-period XOR LFSR, Galois or Fibonacci, lanes leap-forward words per cycle, runtime reseed"

    width: int = param(32, lo=MIN_WIDTH, hi=MAX_WIDTH, doc="state bits (taps from the catalogue)")
    lanes: int = param(1, lo=1, hi=256, doc="words per cycle (independent, jump-ahead seeded lanes)")
    form: str = param("galois", choices=("galois", "fibonacci"), doc="LFSR structure")
    step: int = param(0, lo=0, hi=4096, doc="single steps per output word; 0 means width")
    seed: int = param(1, lo=0, hi=(1 << MAX_WIDTH) - 1, doc="stream seed (lane l starts (l+1)*jump steps after it)",
                      shown="an integer in [1, 2**width-1]")
    poly: int = param(0, lo=0, hi=(1 << (MAX_WIDTH + 1)) - 1,
                      doc="feedback polynomial, bit i = x^i; 0 means the catalogue entry", hex=True,
                      shown="0 or a primitive polynomial of degree width")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.step == 0:
            object.__setattr__(self, "step", self.width)
        if self.poly == 0:
            object.__setattr__(self, "poly", taps_to_poly(tap_catalogue()[self.width]["taps"]))

    def validate(self) -> None:
        top = (1 << self.width) - 1
        if self.seed == 0:
            self.fail("seed", f"is the lock-up state of an XOR LFSR; seed must be in [1, {top}]")
        if self.seed > top:
            self.fail("seed", f"does not fit width={self.width}; seed must be in [1, {top}]")
        if self.poly:
            if self.poly.bit_length() - 1 != self.width:
                self.fail("poly", f"has degree {self.poly.bit_length() - 1}, not width={self.width}; "
                                  f"poly must be a primitive polynomial of degree {self.width} (or 0)")
            if not is_primitive(self.poly, factorize(top)):
                self.fail("poly", f"is not primitive over GF(2); the LFSR would not have maximal period "
                                  f"2**{self.width}-1 (use 0 for the catalogue entry)")

    # ---- the one-step model; every other matrix is derived from it ----
    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    def one_step(self, x: int) -> int:
        """Advance one state by a single step."""
        if self.form == "galois":
            # Right shift; when a one falls out, XOR the polynomial (without its x^0 term) back in.
            return (x >> 1) ^ ((self.poly >> 1) if x & 1 else 0)
        return ((x << 1) | ((x & self._fibonacci_taps).bit_count() & 1)) & self.mask

    @functools.cached_property
    def _fibonacci_taps(self) -> int:
        # Fibonacci: left shift, new bit = parity of the tapped bits; bit n-1 is the oldest bit, and
        # x^i of the polynomial taps bit n-1-i (the recurrence b[k+n] = sum c_i b[k+i]).
        return sum(((self.poly >> i) & 1) << (self.width - 1 - i) for i in range(self.width))

    @functools.cached_property
    def matrix(self) -> Matrix:
        """The one-step map A."""
        return Matrix.from_function(self.width, self.one_step)

    @functools.cached_property
    def step_matrix(self) -> Matrix:
        """What one cycle does to one lane: A**step (leap-forward)."""
        return self.matrix ** self.step

    @property
    def period(self) -> int:
        return (1 << self.width) - 1

    @functools.cached_property
    def jump(self) -> int:
        """Single steps between the start states of neighbouring lanes (coprime with the period)."""
        j = max(1, self.period // (self.lanes + 1))
        while j > 1 and math.gcd(j, self.period) != 1:
            j -= 1
        return j

    @functools.cached_property
    def jump_matrix(self) -> Matrix:
        return self.matrix ** self.jump

    def lane_seeds(self, seed: int | None = None) -> list[int]:
        """Start state of every lane for one seed (default: the spec's seed)."""
        seed = self.seed if seed is None else seed
        if not 0 < seed <= self.mask:
            raise ValueError(f"lfsr: seed={seed} must be in [1, {self.mask}] for width={self.width}")
        states = [self.jump_matrix(seed)]
        for _ in range(1, self.lanes):
            states.append(self.jump_matrix(states[-1]))
        return states

    @property
    def outputs_per_cycle(self) -> int:
        return self.lanes

    @property
    def out_format(self) -> FixedFormat:
        return FixedFormat(self.width, 0, signed=False)

    def golden(self, count: int, *, seed: int | None = None) -> np.ndarray:
        return lfsr_words(self, count, seed=seed).astype(np.int64) if self.width < 64 else \
            lfsr_words(self, count, seed=seed).view(np.int64)

    def seed_vector(self, seed: int) -> list[int]:
        return self.lane_seeds(seed)

    def create(self):
        from ..gen.lfsr import LFSR
        return LFSR(self)


def _advance(matrix: Matrix, states: np.ndarray, times: int) -> np.ndarray:
    """Apply ``matrix**times`` to every state (uint64 array)."""
    if times == 0:
        return states.copy()
    return apply_tables((matrix ** times).byte_tables(), states)


def lfsr_words(spec: LFSRSpec, cycles: int, *, seed: int | None = None, start: int = 0) -> np.ndarray:
    """Lane words for cycles ``start .. start+cycles-1`` as a uint64 array of shape (cycles, lanes).

    Vectorised: the cycles are cut into segments whose start states are found with jump-ahead
    matrices, then all segments advance together, one table-driven matrix product per cycle."""
    seeds = np.array(spec.lane_seeds(seed), dtype=np.uint64)
    if cycles <= 0:
        return np.zeros((0, spec.lanes), dtype=np.uint64)
    step = spec.step_matrix
    first = _advance(step, seeds, start)                     # (lanes,)
    segments = max(1, min(cycles, cycles // 64))
    seg_len = -(-cycles // segments)
    segments = -(-cycles // seg_len)
    # Start states of all segments by doubling: segment k starts seg_len*k cycles after `first`.
    starts = first[None, :]
    jump = step ** seg_len
    while starts.shape[0] < segments:
        tables = (jump ** starts.shape[0]).byte_tables()
        starts = np.concatenate([starts, apply_tables(tables, starts)], axis=0)
    starts = starts[:segments]                              # (segments, lanes)
    out = np.empty((segments, seg_len, spec.lanes), dtype=np.uint64)
    tables = step.byte_tables()
    cur = starts
    for i in range(seg_len):
        out[:, i, :] = cur
        if i + 1 < seg_len:
            cur = apply_tables(tables, cur)
    return out.reshape(segments * seg_len, spec.lanes)[:cycles]


preset("prbs-lfsr32", "lfsr:width=32,lanes=1,form=galois", "one 32-bit Galois LFSR word per cycle")
