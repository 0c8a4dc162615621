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
from .gf2 import Matrix, apply_tables, factorize, is_primitive
from .source import SourceSpec
from .spec import param, register

__all__ = ["LFSRSpec", "tap_catalogue", "lfsr_words", "lfsr_pieces"]

MIN_WIDTH, MAX_WIDTH = 2, 64
_DATA = pathlib.Path(__file__).with_name("data") / "lfsr_taps.json"


@functools.cache
def tap_catalogue() -> dict[int, dict]:
    """width -> {"taps": [n, a, ...], "factors": [primes of 2^n-1]}; source cited in the JSON file."""
    raw = json.loads(_DATA.read_text())
    return {int(w): entry for w, entry in raw["widths"].items()}


def taps_to_poly(taps: list[int]) -> int:
    return sum(1 << t for t in taps) | 1


def width_param(doc: str = "LFSR width"):
    """The LFSR parameters every block that owns an LFSR declares the same way."""
    return param(32, lo=MIN_WIDTH, hi=MAX_WIDTH, doc=doc)


def form_param():
    return param("galois", choices=("galois", "fibonacci"), doc="LFSR structure")


def seed_param(doc: str = "LFSR seed", width_name: str = "width"):
    return param(1, lo=0, hi=(1 << MAX_WIDTH) - 1, doc=doc, shown=f"an integer in [1, 2**{width_name}-1]")


def poly_param(doc: str = "LFSR polynomial, bit i = x^i; 0 means the catalogue entry"):
    return param(0, lo=0, hi=(1 << (MAX_WIDTH + 1)) - 1, doc=doc, hex=True,
                 shown="0 or a primitive polynomial of degree width")


@register
@dataclass(frozen=True, kw_only=True)
class LFSRSpec(SourceSpec):
    """Parallel max-period LFSR: ``lanes`` words of ``width`` bits per cycle."""

    KIND = "lfsr"
    SUMMARY = "max-period XOR LFSR, Galois or Fibonacci, lanes leap-forward words per cycle, runtime reseed"

    width: int = width_param("state bits (taps from the catalogue)")
    lanes: int = param(1, lo=1, hi=256, doc="words per cycle (independent, jump-ahead seeded lanes)")
    form: str = form_param()
    step: int = param(0, lo=0, hi=4096, doc="single steps per output word; 0 means width")
    seed: int = seed_param("stream seed (lane l starts (l+1)*jump steps after it)")
    poly: int = poly_param("feedback polynomial, bit i = x^i; 0 means the catalogue entry")

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


# ---- fast vectorised generation ----------------------------------------------------------------
# A lane's words are the orbit s, M s, M^2 s, ... of its start state under the leap-forward matrix
# M = A**step. Row tables hold _ROW consecutive orbit words per lookup, table[c, v] = (M^0 x, ...,
# M^(_ROW-1) x) for the state x whose chunk c is v (other bits zero), so the next _ROW words of any
# state are the XOR of one table row per chunk. The block start states (every _ROW-th word) are the
# orbit of M**_ROW, found the same way one level up. Every table is derived from the one-step matrix.
_ROW = 64            # orbit words per table row
_CHUNK = 8           # state bits per table index: 256-row tables, 256 KiB per level for 32 bits
_PIECE = 1 << 17     # words per piece of lfsr_pieces: temporaries stay cache-sized


def _native(width: int):
    return np.uint32 if width <= 32 else np.uint64


@functools.lru_cache(maxsize=64)
def _power(matrix: Matrix, e: int) -> Matrix:
    return matrix ** e


@functools.lru_cache(maxsize=512)
def _pow2_matrix(matrix: Matrix, i: int) -> Matrix:
    return matrix if i == 0 else _pow2_matrix(matrix, i - 1) @ _pow2_matrix(matrix, i - 1)


@functools.lru_cache(maxsize=512)
def _pow2_tables(matrix: Matrix, i: int) -> np.ndarray:
    """Byte tables of ``matrix**(2**i)``; each squaring is computed once."""
    return _pow2_matrix(matrix, i).byte_tables()


def _jump(matrix: Matrix, states: np.ndarray, times: int) -> np.ndarray:
    """``matrix**times`` applied to every uint64 state: one cached power of two per set bit."""
    i = 0
    while times:
        if times & 1:
            states = apply_tables(_pow2_tables(matrix, i), states)
        times >>= 1
        i += 1
    return states


@functools.lru_cache(maxsize=32)
def _row_tables(matrix: Matrix) -> np.ndarray:
    """(chunks, 2**_CHUNK, _ROW) native words: ``table[c, v, k]`` = M**k applied to v << (_CHUNK*c)."""
    n, dtype = matrix.n, _native(matrix.n)
    cols = np.empty((_ROW, n), dtype=np.uint64)           # cols[k, j]: column j of M**k
    cols[0] = np.left_shift(np.uint64(1), np.arange(n, dtype=np.uint64))
    step = matrix.byte_tables()
    for k in range(1, _ROW):
        cols[k] = apply_tables(step, cols[k - 1])
    values = np.arange(1 << _CHUNK)
    tables = np.zeros((-(-n // _CHUNK), 1 << _CHUNK, _ROW), dtype=dtype)
    for j in range(n):
        c, b = divmod(j, _CHUNK)
        tables[c, (values >> b) & 1 == 1] ^= cols[:, j].astype(dtype)
    tables.setflags(write=False)
    return tables


def _expand(tables: np.ndarray, starts: np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None) -> None:
    """``out[b, k, s]`` = M**k applied to ``starts[b, s]``; out has shape (blocks, _ROW, S).

    ``scratch`` (2, >= blocks, S, _ROW) is reused between calls: fresh large temporaries cost page
    faults on every call, which dominated the run time."""
    blocks, _, lanes = out.shape
    if scratch is None:
        scratch = np.empty((2, blocks, lanes, _ROW), dtype=tables.dtype)
    acc, tmp = scratch[0, :blocks], scratch[1, :blocks]
    mask = (1 << _CHUNK) - 1
    index = [((starts >> (_CHUNK * c)) & mask).astype(np.intp) for c in range(tables.shape[0])]
    target = out.transpose(0, 2, 1)                       # the transpose is folded into the last XOR
    if len(index) == 1:
        np.take(tables[0], index[0], axis=0, out=acc, mode="clip")
        target[...] = acc
        return
    np.take(tables[0], index[0], axis=0, out=acc, mode="clip")
    for c in range(1, len(index) - 1):
        np.take(tables[c], index[c], axis=0, out=tmp, mode="clip")
        acc ^= tmp
    np.take(tables[-1], index[-1], axis=0, out=tmp, mode="clip")
    np.bitwise_xor(acc, tmp, out=target)


def _orbit(matrix: Matrix, states: np.ndarray, n: int) -> np.ndarray:
    """(n, S) native words: row i is ``matrix**i`` applied to each of the S native states."""
    tables = _row_tables(matrix)
    blocks = -(-n // _ROW)
    starts = states[None, :] if blocks == 1 else _orbit(_power(matrix, _ROW), states, blocks)
    out = np.empty((blocks, _ROW, len(states)), dtype=tables.dtype)
    _expand(tables, starts, out)
    return out.reshape(-1, len(states))[:n]


def lfsr_pieces(spec: LFSRSpec, cycles: int, *, seed: int | None = None, start: int = 0,
                piece: int | None = None, dtype=np.uint64):
    """The words of ``lfsr_words(spec, cycles, seed=seed, start=start)`` as consecutive pieces of
    shape (k, lanes), k about ``piece`` cycles (a multiple of 64; default about 2**17 words), so long
    streams are generated in bounded, cache-friendly memory.

    Each piece is a view into one buffer that the next piece overwrites: use (or copy) it before
    asking for the next one. The caller may modify it in place."""
    native = _native(spec.width)
    step = spec.step_matrix
    first = _jump(step, np.array(spec.lane_seeds(seed), dtype=np.uint64), start).astype(native)
    if cycles <= 0:
        return
    starts = _orbit(_power(step, _ROW), first, -(-cycles // _ROW))  # (blocks, lanes)
    per = min(len(starts), max(1, (piece or _PIECE // spec.lanes) // _ROW))  # blocks per piece
    tables = _row_tables(step)
    buffer = np.empty((per, _ROW, spec.lanes), dtype=native)
    scratch = np.empty((2, per, spec.lanes, _ROW), dtype=native)
    converted = None if np.dtype(dtype) == native else np.empty(buffer.shape, dtype=dtype)
    for b in range(0, len(starts), per):
        block = starts[b:b + per]
        out = buffer[:len(block)]
        _expand(tables, block, out, scratch)
        if converted is not None:
            out = converted[:len(block)]
            out[...] = buffer[:len(block)]
        yield out.reshape(-1, spec.lanes)[:cycles - b * _ROW]


def lfsr_words(spec: LFSRSpec, cycles: int, *, seed: int | None = None, start: int = 0,
               dtype=np.uint64) -> np.ndarray:
    """Lane words for cycles ``start .. start+cycles-1`` as an array of shape (cycles, lanes):
    uint64, or ``dtype`` (uint32 is enough for width <= 32).

    Vectorised with row tables (see above): a few table gathers and XORs per 64 words, in pieces of
    about 2**17 words with reused buffers; about 1-2 ns per word (the former one-matrix-product-per-
    cycle version took about 20-40 ns)."""
    out = np.empty((max(cycles, 0), spec.lanes), dtype=dtype)
    pos = 0
    for rows in lfsr_pieces(spec, cycles, seed=seed, start=start, dtype=_native(spec.width)):
        out[pos:pos + len(rows)] = rows
        pos += len(rows)
    return out
