"""Fixed-point formats, rounding and overflow, shared by every block.

Formats
-------
A :class:`FixedFormat` says how an integer *code* maps to a real number: ``value = code / 2**frac``,
with ``bits`` total bits, two's complement when ``signed``. Blocks carry their formats with them
(``spec.out_format``, ``spec.w_format`` ...) so a consumer never re-derives them. The roles used by
the datapath blocks:

* weights ``w``      signed, e.g. sQ3.12 (16 bits, 12 fraction bits);
* activations ``a``  signed integers (int8/int16) in the MAC array;
* perturbations ``z`` signed, the RNG chain's ``out_format`` (uniform sQ0.(b-1), PeZO sQ1.(b-2),
  Gaussian sQ3.(b-4));
* accumulators       signed, wide enough for a declared number of products
  (:func:`accumulator_bits`); the product of codes ``a * w`` has ``frac = a.frac + w.frac``.

Rounding: exact integer definitions
-----------------------------------
Rounding turns a code ``x`` with ``f`` fraction bits into a code with ``t`` fraction bits. With
``k = f - t``: if ``k <= 0`` the result is ``x * 2**-k`` (exact, no rounding). Otherwise, with
``q = floor(x / 2**k)`` (an arithmetic right shift), ``r = x - q * 2**k`` in ``[0, 2**k)`` and
``h = 2**(k-1)``:

* ``floor``        ``q``                                           (toward -inf; bias -1/2 LSB)
* ``half_up``      ``floor((x + h) / 2**k)``: ties go toward +inf   (bias +2**-(k+1) LSB on ties)
* ``nearest_even`` ``q + 1`` if ``r > h`` or (``r == h`` and ``q`` odd), else ``q``   (unbiased)
* ``stochastic``   ``floor((x + u) / 2**k)``, ``u`` the low ``k`` bits of a uniform random word; rounds
  up with probability exactly ``r / 2**k``, so the expected result is ``x / 2**k`` (unbiased).

Hardware computes ``nearest_even`` as ``(x + h - 1 + bit_k(x)) >> k``, which equals the definition
above (a carry out of the low ``k`` bits happens iff ``r > h``, or ``r == h`` and bit ``k`` is set).

Overflow: exact integer definitions
-----------------------------------
A code ``y`` that does not fit ``[min_code, max_code]`` of the target format either

* ``wrap``s: ``y mod 2**bits`` read back as two's complement (signed) or unsigned; or
* ``saturate``s: ``min(max(y, min_code), max_code)``.

Both are *detected*: :func:`overflowed` is the mask of codes that did not fit, and the blocks flag
and count every such code instead of hiding it.

Numerics of the numpy helpers: all arrays are int64; inputs must stay within ``|x| < 2**62`` so that
adding a rounding offset cannot overflow. The spec validators keep every block inside that bound.

Members
-------
FixedFormat                   bits, frac, signed; min_code, max_code, int_bits, lsb, to_float,
                              from_float, fits, parse
ROUNDINGS, OVERFLOWS          the mode names
shift_round(x, k, rounding, random_bits=None)  divide by 2**k with rounding (k <= 0: exact shift)
overflowed(codes, fmt)        mask of codes outside ``fmt``
fit(codes, fmt, overflow)     wrap or saturate into ``fmt``
requantize(codes, from_frac, to_fmt, rounding, overflow, random_bits=None)  round, then fit
signed_bits_for(lo, hi)       fewest two's-complement bits holding every integer in [lo, hi]
product_range(a, b)           exact (min, max) of a product of codes of formats a and b
accumulator_bits(a, b, terms) bits for the exact sum of ``terms`` such products
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["FixedFormat", "ROUNDINGS", "OVERFLOWS", "shift_round", "overflowed", "fit", "requantize",
           "signed_bits_for", "product_range", "accumulator_bits"]

ROUNDINGS = ("floor", "half_up", "nearest_even", "stochastic")
OVERFLOWS = ("wrap", "saturate")


@dataclass(frozen=True)
class FixedFormat:
    bits: int
    frac: int
    signed: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 64:
            raise ValueError(f"fixed: bits={self.bits} must be in [1, 64]")
        if not 0 <= self.frac <= 64:
            raise ValueError(f"fixed: frac={self.frac} must be in [0, 64]")

    @property
    def int_bits(self) -> int:
        """Integer bits, not counting the sign bit."""
        return self.bits - self.frac - int(self.signed)

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    def to_float(self, codes) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def from_float(self, values, rounding: str = "nearest_even", overflow: str = "saturate") -> np.ndarray:
        """Codes of real ``values``: ``values * 2**frac`` (exact in float64) rounded with ``rounding``
        and fitted with ``overflow``. ``stochastic`` is not offered here: it needs random bits."""
        _check_mode("rounding", rounding, ROUNDINGS[:3])
        scaled = np.asarray(values, dtype=np.float64) * 2.0 ** self.frac
        rounded = {"floor": np.floor, "half_up": lambda v: np.floor(v + 0.5), "nearest_even": np.rint}[rounding]
        limit = 2.0 ** 62
        return fit(np.clip(rounded(scaled), -limit, limit).astype(np.int64), self, overflow)

    def fits(self, codes) -> np.ndarray:
        return ~overflowed(codes, self)

    @classmethod
    def parse(cls, text: str) -> "FixedFormat":
        """The inverse of ``str()``: ``sQ3.12`` -> FixedFormat(16, 12), ``uQ0.8`` -> (8, 8, False)."""
        match = re.fullmatch(r"([su])Q(-?\d+)\.(\d+)", text.strip())
        if not match:
            raise ValueError(f"fixed: {text!r} is not a format; write sQi.f or uQi.f")
        signed = match[1] == "s"
        return cls(int(match[2]) + int(match[3]) + int(signed), int(match[3]), signed)

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}Q{self.int_bits}.{self.frac}"


def _check_mode(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"fixed: {name}={value!r} is not allowed; {name} must be one of {'|'.join(allowed)}")


def shift_round(x, k: int, rounding: str = "nearest_even", random_bits=None) -> np.ndarray:
    """``x / 2**k`` rounded to an integer code (see the module docstring); ``k <= 0`` is exact.

    ``random_bits`` (stochastic only): non-negative integers broadcastable to ``x``; their low ``k``
    bits are the offset ``u``."""
    _check_mode("rounding", rounding, ROUNDINGS)
    x = np.asarray(x, dtype=np.int64)
    if k <= 0:
        return x << np.int64(-k)
    if k > 62:
        raise ValueError(f"fixed: shift k={k} must be at most 62")
    if rounding == "floor":
        return x >> np.int64(k)
    if rounding == "half_up":
        return (x + np.int64(1 << (k - 1))) >> np.int64(k)
    if rounding == "stochastic":
        if random_bits is None:
            raise ValueError("fixed: rounding='stochastic' needs random_bits")
        u = np.asarray(random_bits).astype(np.uint64) & np.uint64((1 << k) - 1)
        return (x + u.astype(np.int64)) >> np.int64(k)
    q = x >> np.int64(k)
    r = x - (q << np.int64(k))
    half = np.int64(1 << (k - 1))
    return q + ((r > half) | ((r == half) & ((q & 1) == 1)))


def overflowed(codes, fmt: FixedFormat) -> np.ndarray:
    """True where a code does not fit ``fmt``."""
    codes = np.asarray(codes, dtype=np.int64)
    return (codes < fmt.min_code) | (codes > fmt.max_code)


def fit(codes, fmt: FixedFormat, overflow: str = "saturate") -> np.ndarray:
    """Bring codes into ``fmt`` by wrapping or saturating (see the module docstring)."""
    _check_mode("overflow", overflow, OVERFLOWS)
    codes = np.asarray(codes, dtype=np.int64)
    if overflow == "saturate":
        return np.clip(codes, fmt.min_code, fmt.max_code)
    if fmt.bits == 64:
        return codes.copy()
    low = codes & np.int64((1 << fmt.bits) - 1)
    if fmt.signed:
        low = low - ((low >> np.int64(fmt.bits - 1)) << np.int64(fmt.bits))
    return low


def requantize(codes, from_frac: int, to_fmt: FixedFormat, rounding: str = "nearest_even",
               overflow: str = "saturate", random_bits=None) -> np.ndarray:
    """Codes with ``from_frac`` fraction bits, rounded to ``to_fmt.frac`` and fitted into ``to_fmt``."""
    rounded = shift_round(codes, from_frac - to_fmt.frac, rounding, random_bits)
    return fit(rounded, to_fmt, overflow)


def signed_bits_for(lo: int, hi: int) -> int:
    """Fewest two's-complement bits whose range holds every integer in ``[lo, hi]``."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def product_range(a: FixedFormat, b: FixedFormat) -> tuple[int, int]:
    """Exact (min, max) of ``x * y`` for codes x of ``a`` and y of ``b``."""
    corners = [x * y for x in (a.min_code, a.max_code) for y in (b.min_code, b.max_code)]
    return min(corners), max(corners)


def accumulator_bits(a: FixedFormat, b: FixedFormat, terms: int) -> int:
    """Signed bits that hold the sum of any ``terms`` products of codes of ``a`` and ``b`` exactly."""
    lo, hi = product_range(a, b)
    return signed_bits_for(terms * lo, terms * hi)
