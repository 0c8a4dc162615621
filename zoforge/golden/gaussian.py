"""Gaussian approximators (the baseline PeZO replaces): spec and bit-exact, vectorised golden model.

Output: ``lanes`` signed fixed-point numbers per cycle in Q3.(bits-4) (sign + 3 integer bits, so
|z| < 8), approximately N(0, 1). Two methods share the spec:

``clt`` (central limit theorem). Output lane ``l`` sums the ``n`` uniform lanes ``l*n .. l*n+n-1``
of :attr:`GaussianSpec.uniform` (``ubits``-bit codes ``u``, N = 2**ubits values). Each term is
centred exactly as the odd integer ``2u + 1`` (variance (N**2 - 1)/3), so ``T = 2*sum(u) + n`` is
symmetric with variance ``n(N**2 - 1)/3``. The code is ``floor((T*K + 2**(sh-1)) / 2**sh)``
(round half up), ``K/2**sh`` being ``2**(bits-4)/sd(T)`` rounded to an 18-bit integer ``K``.
No saturation, by construction: |T| <= n(N-1), so |z| <= sqrt(3n(N-1)/(N+1)) (1 + 2**-17)
< sqrt(48) < 6.93 for n <= 16; after rounding the code is below 6.93*2**(bits-4) + 1/2, while
the format holds 8*2**(bits-4) - 1 (bits >= 8). Checked again exactly by
:attr:`GaussianSpec.clt_code_bound` and the tests.

``icdf`` (inverse CDF, hierarchical segmentation). One ``ubits``-bit uniform word per lane: its top
bit is the sign, the other ``m = ubits-1`` bits an integer ``x`` whose tail probability is
``p = (x + 1/2) / 2**(m+1)`` in (0, 1/2); the magnitude approximates ``Q^-1(p)`` (Q(z) = P(Z > z)).
Segments: the octave is the leading-zero count ``k`` of ``x`` (x in [2**(m-1-k), 2**(m-k))), which
makes the segments geometrically finer towards the tail, and within an octave the ``sub`` equal
sub-segments are the bits after the leading one. The remaining bits, truncated to ``fb`` bits,
are the interpolation variable ``f``; per segment ``mag = (c0 - d1*f) >> guard`` (degree-1
polynomial through the exact values at the segment's first and last x, coefficients in a ROM, the
rounding constant folded into ``c0``). With a 32-bit uniform the tail reaches Q^-1(2**-33) = 6.34
sigma. Tables are built in numpy from the double-precision inverse :meth:`statistics.NormalDist.inv_cdf`;
the map x -> magnitude is non-increasing by construction (monotone ICDF). Largest error against
the exact ICDF at 16 bits, the 0.5 LSB output rounding included (``IcdfTable.max_error``): 3.4 LSB
with sub=8, 1.4 with sub=16 (default), 0.8 with sub=32.

Members: :class:`GaussianSpec` (kind ``gaussian``), :class:`IcdfTable`, :func:`icdf_table`, :func:`tail_quantile`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .fixed import FixedFormat
from .lfsr import form_param, poly_param, seed_param, width_param
from .source import SourceSpec
from .spec import SpecError, param, register
from .uniform import UniformSpec

__all__ = ["GaussianSpec", "IcdfTable", "icdf_table", "tail_quantile"]

CLT_K_BITS = 18          # scale constant width: one DSP multiplier operand
CLT_UBITS = (2, 32)      # uniform bits allowed for clt (T*K stays inside int64)
ICDF_UBITS = (8, 48)     # for icdf: 48 bits reach Q^-1(2**-49) = 7.87 < 8
SUB_CHOICES = (1, 2, 4, 8, 16, 32)
MAX_UNIFORM_LANES = 256  # UniformSpec's lane limit


@register
@dataclass(frozen=True, kw_only=True)
class GaussianSpec(SourceSpec):
    """Approximately N(0, 1) numbers in Q3.(bits-4), ``lanes`` per cycle, by CLT or ICDF.

    Derived members (computed here only): ``uniform_bits`` (ubits, auto resolved), ``uniform``
    (the :class:`UniformSpec` feeding the block), ``clt_scale`` ((K, sh)), ``clt_code_bound``,
    ``table`` (the :class:`IcdfTable`), plus the :class:`SourceSpec` contract."""

    KIND = "gaussian"
    SUMMARY = "Gaussian approximator (CLT sum of n uniforms, or segmented inverse CDF) in Q3.(bits-4)"

    method: str = param("clt", choices=("clt", "icdf"), doc="clt: sum of n uniforms; icdf: inverse CDF")
    n: int = param(4, lo=1, hi=16, doc="clt: uniforms summed per output")
    lanes: int = param(8, lo=1, hi=64, doc="outputs per cycle")
    bits: int = param(16, lo=8, hi=24, doc="output bits, format Q3.(bits-4)")
    ubits: int = param(0, lo=0, hi=ICDF_UBITS[1],
                       doc="uniform bits per draw; 0 = auto (clt: bits, icdf: min(width, 32))")
    sub: int = param(16, choices=SUB_CHOICES, doc="icdf: sub-segments per octave")
    width: int = width_param()
    form: str = form_param()
    seed: int = seed_param()
    poly: int = poly_param()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "ubits", self.uniform_bits)
        object.__setattr__(self, "poly", self.uniform.poly)

    @property
    def uniform_bits(self) -> int:
        """``ubits`` with 0 (auto) resolved."""
        if self.ubits:
            return self.ubits
        return self.bits if self.method == "clt" else min(self.width, 32)

    def validate(self) -> None:
        clt = self.method == "clt"
        if not clt and self.n != 4:
            self.fail("n", "is only used by method=clt; leave n at its default 4 for method=icdf")
        if clt and self.sub != 16:
            self.fail("sub", "is only used by method=icdf; leave sub at its default 16 for method=clt")
        lo, hi = CLT_UBITS if clt else ICDF_UBITS
        if self.ubits and not lo <= self.ubits <= hi:
            self.fail("ubits", f"is out of range for method={self.method}; "
                               f"ubits must be 0 (auto) or in [{lo}, {hi}]")
        if self.uniform_bits < lo:     # only the automatic min(width, 32) can get here
            self.fail("width", f"is too small for method={self.method}, which needs at least {lo} uniform bits; "
                               f"width must be >= {lo}")
        if self.uniform_bits > self.width:
            self.fail("width", f"is too small for the {self.uniform_bits} uniform bits method={self.method} "
                               f"uses; width must be >= {self.uniform_bits} (or lower ubits)")
        if clt and self.lanes * self.n > MAX_UNIFORM_LANES:
            self.fail("n", f"with lanes={self.lanes} needs {self.lanes * self.n} uniform lanes; "
                           f"lanes*n must be <= {MAX_UNIFORM_LANES}")
        top = (1 << self.width) - 1
        if not 0 < self.seed <= top:
            self.fail("seed", f"must be in [1, {top}] for width={self.width} (0 locks an XOR LFSR up)")
        try:
            _ = self.uniform
        except SpecError as e:   # poly errors: same message, this spec's kind
            raise SpecError(self.KIND + str(e)[str(e).index(":"):]) from None

    # ---- derived parameters (the only place they are computed) ----
    @functools.cached_property
    def uniform(self) -> UniformSpec:
        """The uniform source: lanes*n lanes for clt, lanes for icdf, ``ubits`` bits each."""
        lanes = self.lanes * self.n if self.method == "clt" else self.lanes
        return UniformSpec(bits=self.uniform_bits, lanes=lanes, width=self.width, form=self.form,
                           seed=self.seed, poly=self.poly)

    @functools.cached_property
    def clt_scale(self) -> tuple[int, int]:
        """(K, sh): code = floor((T*K + 2**(sh-1)) / 2**sh); K has 18 bits (more only when few
        uniform bits feed many output bits, where sh stops at 1)."""
        big_n = 1 << self.uniform_bits
        target = 2.0 ** (self.bits - 4) / math.sqrt(self.n * (big_n * big_n - 1) / 3)
        sh = max(1, CLT_K_BITS - 1 - math.floor(math.log2(target)))
        return math.floor(target * 2.0 ** sh + 0.5), sh

    @property
    def clt_code_bound(self) -> int:
        """Largest |code| a clt output can take (all n terms at an extreme)."""
        k, sh = self.clt_scale
        t_max = self.n * ((1 << self.uniform_bits) - 1)
        return max((t_max * k + (1 << (sh - 1))) >> sh, -((-t_max * k + (1 << (sh - 1))) >> sh))

    @property
    def table(self) -> "IcdfTable":
        return icdf_table(self.uniform_bits, self.sub, self.bits)

    # ---- SourceSpec contract ----
    @property
    def outputs_per_cycle(self) -> int:
        return self.lanes

    @property
    def out_format(self) -> FixedFormat:
        return FixedFormat(self.bits, self.bits - 4, signed=True)

    def golden(self, count: int, *, seed: int | None = None) -> np.ndarray:
        codes = self.uniform.golden(count, seed=seed)
        if self.method == "clt":
            k, sh = self.clt_scale
            s = codes.reshape(count, self.lanes, self.n).sum(axis=2)
            return (s * (2 * k) + (self.n * k + (1 << (sh - 1)))) >> sh
        raw = codes & ((1 << self.uniform_bits) - 1)
        return self.table.evaluate(raw)

    def seed_vector(self, seed: int) -> list[int]:
        return self.uniform.seed_vector(seed)

    def create(self):
        from ..gen.gaussian import Gaussian
        return Gaussian(self)


@dataclass(frozen=True, eq=False)
class IcdfTable:
    """Coefficient ROM of the ICDF method and its integer evaluation.

    Members: ``m`` (magnitude bits of the uniform word), ``sb`` (log2 sub-segments per octave),
    ``low`` (bits below the sub-segment index after normalising), ``fb`` (interpolation bits),
    ``guard`` (extra fraction bits of the coefficients), ``c0``/``d1`` (int64 arrays, entry
    ``k*2**sb + j`` for octave ``k``, sub-segment ``j``; unused entries are 0), ``max_error``
    (largest |table - exact| over the fitted x samples, in output LSBs, rounding included),
    ``depth``, :meth:`split` (address and f), :meth:`magnitude`, :meth:`evaluate` (signed codes).
    """
    m: int
    sb: int
    low: int
    fb: int
    guard: int
    c0: np.ndarray
    d1: np.ndarray
    max_error: float

    @property
    def depth(self) -> int:
        return (self.m + 1) << self.sb

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(address, f) for magnitude integers ``x`` (int64, < 2**m)."""
        k = self.m - np.frexp(x.astype(np.float64))[1]           # leading zeros; x=0 gives m
        xn = x << k
        sub = (xn >> self.low) & ((1 << self.sb) - 1)
        f = (xn & ((1 << self.low) - 1)) >> (self.low - self.fb)
        return (k << self.sb) | sub, f

    def magnitude(self, x: np.ndarray) -> np.ndarray:
        addr, f = self.split(x)
        return (self.c0[addr] - self.d1[addr] * f) >> self.guard

    def evaluate(self, raw: np.ndarray) -> np.ndarray:
        """Signed codes for raw (m+1)-bit uniform words: top bit sign, the rest x."""
        mag = self.magnitude(raw & ((1 << self.m) - 1))
        return np.where(raw >> self.m, -mag, mag)


_FIT_SAMPLES = 129
_STANDARD = NormalDist()


def tail_quantile(p: float) -> float:
    """Q^-1(p): the z with P(Z > z) = p, for 0 < p <= 1/2 (accurate for tiny p, where 1 - p rounds to 1)."""
    return -_STANDARD.inv_cdf(p)


@functools.cache
def icdf_table(ubits: int, sub: int, bits: int) -> IcdfTable:
    """Build (and cache) the ICDF coefficient table for one parameter set."""
    m, sb = ubits - 1, sub.bit_length() - 1
    low = m - 1 - sb
    fb = min(low, bits - 2)
    guard = fb + 2                      # slope quantisation error <= 1/8 LSB over a segment
    scale = 2.0 ** (bits - 4 + guard)
    lsb = 2.0 ** -(bits - 4)
    depth = (m + 1) << sb
    c0 = np.zeros(depth, dtype=np.int64)
    d1 = np.zeros(depth, dtype=np.int64)
    worst = 0.0

    def f_of(x: np.ndarray, k: int) -> np.ndarray:
        return ((x << k) & ((1 << low) - 1)) >> (low - fb)

    for k in range(m, -1, -1):          # x ascending: deepest octave (x = 0) first
        for j in range(1 << sb):
            if k == m:
                if j:
                    continue
                x0, w = 0, 1
            else:
                xn0 = (1 << (m - 1)) | (j << low)
                if xn0 & ((1 << k) - 1):
                    continue            # sub-segment unreachable in this short octave
                x0, w = xn0 >> k, (1 << (low - k)) if k <= low else 1
            xs = np.unique(np.round(np.linspace(x0, x0 + w - 1, min(w, _FIT_SAMPLES))).astype(np.int64))
            g = np.array([tail_quantile((int(x) + 0.5) / 2.0 ** (m + 1)) for x in xs])
            f = f_of(xs, k)
            # Knots: exact values at the segment's first and last x, rounded to the guard grid.
            # Rounding down the slope keeps the last value >= the knot, which is >= the next
            # segment's first knot (g decreases, rounding is monotone): a monotone map, and the
            # line is off the knot by < 2**fb units, 1/4 LSB.
            first, last = (math.floor(v * scale + 0.5) for v in (g[0], g[-1]))
            addr = (k << sb) | j
            c0[addr] = first + (1 << (guard - 1))
            d1[addr] = (first - last) // int(f[-1]) if f[-1] else 0
            mags = (c0[addr] - d1[addr] * f) >> guard
            worst = max(worst, float(np.max(np.abs(mags * lsb - g))) / lsb)
    return IcdfTable(m, sb, low, fb, guard, c0, d1, worst)
