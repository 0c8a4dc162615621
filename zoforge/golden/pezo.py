"""The PeZO random-number chain: LFSR uniforms -> reuse -> scaling, as one source block (kind ``pezo``).

Chain. A uniform source (:class:`UniformSpec`, Q0.(bits-1) codes) with ``lanes`` lanes (``gens`` for
``reuse=rotate``) feeds a reuse stage (:mod:`zoforge.golden.reuse`: ``pool``, ``rotate`` or ``none``)
and then the scaling stage (:mod:`zoforge.golden.scale`), whose output ``z`` is signed Q1.(bits-2):
``FixedFormat(bits, bits-2)``, ``lanes`` numbers per cycle. Flat element i of the stream is word
``i // lanes``, lane ``i % lanes``; the host's perturbation of a weight vector is a slice of it.

Reuse ``pool``. After reset, and again after every ``seed`` transfer, the first P/lanes words of the
uniform source fill the pool (memory rows of ``lanes`` codes; no output meanwhile), then the rows are
read cyclically: element i is ``pool[i mod P]``. The ``start`` port (a row index r, reduced mod P/lanes)
flushes the words in flight and continues with element r*lanes, so the host can replay a perturbation
(the MeZO seed trick; a perturbation starting at element e needs e mod lanes == 0). Pitfall: if the
perturbed length is a multiple of P, every step gets the same perturbation.

Reuse ``rotate``: lane j of transfer t is ``G[t // hold][(j + t) mod gens]`` with G the uniform rows.
Reuse ``none``: the uniform stream itself.

Scaling. ``z = (u*q + 2**sfrac) >> (sfrac+1)``; ``scale=none|sqrt3|fold`` use a constant q, ``scale=norm``
a runtime register set through the ``scale`` port (the host sends :func:`tensor_scale` before each
tensor). Its reset value :attr:`PezoSpec.reset_scale` norm-matches the spec's initial pool (pool) or
is round(sqrt(3)*2**sfrac) (rotate, none). ``golden(count, seed=s)`` always uses that reset value: a
reseed restarts the numbers, never the scale register.

``scale=fold`` is norm scaling without the runtime multiplier: the gateware and the codes are those of
``sqrt3`` (a constant shift-and-add), and the per-tensor norm-matching factor :func:`fold_factor` is a
real number the host multiplies into the scalars it already uses for the tensor (eps and the update
step), so it costs no logic.

Refresh (reuse=pool). ``refresh=N``: the host sends a new pool seed every N queries (a seed transfer
refills the pool: :attr:`PezoSpec.refill_cycles` cycles); 0 never reseeds. The spec's gateware is the
same for every N; where each query reads the stream is :func:`zoforge.golden.queries.query_position`.

Host API (fast, vectorised, bit-exact with the stream):

Members
-------
PezoSpec                                 the spec; ``uniform`` (cached sub-spec), ``q``, ``reset_scale``,
                                         ``rows``, ``latency``, ``out_format``, ``golden``, ``create``
perturbation(spec, start, length, seed=None, q=None)         codes (int16, or int32 for bits > 16)
perturbation_values(spec, start, length, seed=None, q=None)  the same as float32 values, exact
unscaled(spec, start, length, seed=None)                     the reused uniform codes before scaling
tensor_scale(spec, start, length, seed=None)                 q that norm-matches that slice (scale=norm)
fold_factor(spec, start, length, seed=None)                  the real factor that norm-matches it (scale=fold)
window_sumsq(spec, start, length, seed=None, q=None)         exact sum of squared codes of that slice
pool_codes(spec, seed=None)                                  the pool (reuse=pool), cached, read-only
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat
from .lfsr import form_param, lfsr_pieces, poly_param, seed_param, width_param
from .reuse import rotate_blocks, tile
from .scale import fold_from_sumsq, norm_q, q_limits, scale_inplace, sqrt3_q, sum_squares
from .source import SourceSpec, output_array
from .spec import SpecError, param, register
from .uniform import UniformSpec

__all__ = ["PezoSpec", "perturbation", "perturbation_values", "unscaled", "tensor_scale", "fold_factor",
           "window_sumsq", "pool_codes"]

MAX_POOL = 1 << 20
MAX_REFRESH = 1 << 30
SCALES = ("none", "sqrt3", "norm", "fold")
_PIECE = 1 << 17          # generated numbers per piece (bounded, cache-sized memory)


@register
@dataclass(frozen=True, kw_only=True)
class PezoSpec(SourceSpec):
    """PeZO perturbation numbers: LFSR uniforms, random-number reuse, scaling; ``lanes`` per cycle."""

    KIND = "pezo"
    SUMMARY = "PeZO chain: LFSR uniforms -> reuse (pool|rotate|none) -> scaling (none|sqrt3|norm|fold), sQ1.(bits-2)"

    reuse: str = param("pool", choices=("pool", "rotate", "none"), doc="random-number reuse strategy")
    pool: int = param(4096, lo=1, hi=MAX_POOL, doc="pool: numbers kept in memory",
                      shown="a multiple of lanes in [lanes, 2**20]")
    gens: int = param(0, lo=0, hi=64, doc="rotate: on-the-fly generators; 0 means lanes",
                      shown="0 or an integer in [1, lanes]")
    hold: int = param(8, lo=1, hi=4096, doc="rotate: transfers a generated vector is reused")
    lanes: int = param(8, lo=1, hi=64, doc="numbers per cycle")
    bits: int = param(16, lo=4, hi=24, doc="bits per number; output sQ1.(bits-2)")
    scale: str = param("norm", choices=SCALES, doc="scaling of the uniforms (fold: sqrt3 codes, "
                                                   "per-tensor factor in the host's scalars)")
    sfrac: int = param(8, lo=4, hi=16, doc="fraction bits of the scale factor q/2**sfrac")
    width: int = width_param()
    form: str = form_param()
    seed: int = seed_param()
    poly: int = poly_param()
    refresh: int = param(0, lo=0, hi=MAX_REFRESH, doc="pool: a new pool seed every N queries; 0 = never")

    def __post_init__(self) -> None:
        # Resolve gens=0 first: validate() builds the uniform sub-spec, which needs it. An invalid
        # lanes is left for the range check to report.
        if self.gens == 0 and isinstance(self.lanes, int) and 1 <= self.lanes <= 64:
            object.__setattr__(self, "gens", self.lanes)
        super().__post_init__()
        object.__setattr__(self, "poly", self.uniform.poly)

    def validate(self) -> None:
        if self.bits > self.width:
            self.fail("bits", f"exceeds width={self.width}; bits must be in [4, min(24, width)]")
        if not 0 < self.seed < (1 << self.width):
            self.fail("seed", f"is not a non-zero {self.width}-bit word; seed must be in [1, 2**width-1]")
        if self.reuse == "pool" and (self.pool < self.lanes or self.pool % self.lanes):
            self.fail("pool", f"is not a multiple of lanes={self.lanes}; pool must be a multiple of "
                              f"lanes in [lanes, 2**20]")
        if self.refresh and self.reuse != "pool":
            self.fail("refresh", f"applies to reuse=pool only (reuse={self.reuse} reseeds every query); "
                                 f"refresh must be 0 here")
        if self.reuse == "rotate" and self.gens > self.lanes:
            self.fail("gens", f"exceeds lanes={self.lanes}; gens must be 0 or in [1, lanes]")
        try:
            _ = self.uniform
        except SpecError as e:           # report it under this kind, naming the same parameter
            raise SpecError(self.KIND + str(e)[str(e).index(":"):]) from None

    # ---- sub-specs and derived values (read these; never re-derive them elsewhere) ----
    @functools.cached_property
    def uniform(self) -> UniformSpec:
        """The uniform source: ``lanes`` lanes (``gens`` for rotate)."""
        return UniformSpec(bits=self.bits, lanes=self.src_lanes, width=self.width, form=self.form,
                           seed=self.seed, poly=self.poly)

    @property
    def src_lanes(self) -> int:
        return self.gens if self.reuse == "rotate" else self.lanes

    @property
    def rows(self) -> int:
        """Pool memory rows (reuse=pool)."""
        return self.pool // self.lanes

    @property
    def row_bits(self) -> int:
        """Width of the ``start`` payload."""
        return max(1, (self.rows - 1).bit_length())

    @property
    def generated_per_output(self) -> float:
        """Uniform numbers generated per output number in steady state (pool: none after the fill)."""
        return {"pool": 0.0, "rotate": self.gens / (self.lanes * self.hold), "none": 1.0}[self.reuse]

    @functools.cached_property
    def reset_scale(self) -> int:
        """Reset value of the runtime scale register (scale=norm)."""
        if self.reuse == "pool":
            return norm_q(sum_squares(pool_codes(self)), self.pool, self.bits, self.sfrac)
        return sqrt3_q(self.sfrac)

    @property
    def q(self) -> int:
        """Scale numerator of :meth:`golden`: s = q / 2**sfrac."""
        if self.scale == "norm":
            return self.reset_scale
        return 1 << self.sfrac if self.scale == "none" else sqrt3_q(self.sfrac)       # sqrt3, fold

    @property
    def latency(self) -> int:
        """Cycles from reset (or a seed transfer) to the first valid output word."""
        return {"pool": self.rows + 2, "rotate": 2, "none": 1}[self.reuse]

    @property
    def refill_cycles(self) -> int:
        """Cycles a seed transfer costs beyond a ``start`` replay: the pool refill, one row per cycle
        (reuse=pool; 0 otherwise, where a seed transfer restarts the generators at once)."""
        return self.rows if self.reuse == "pool" else 0

    @property
    def refresh_cycles_per_query(self) -> float:
        """Refill cycles per query, averaged: ``refill_cycles / refresh``; 0 when never refreshed."""
        return self.refill_cycles / self.refresh if self.refresh else 0.0

    def manifest_info(self) -> dict:
        """Figures ``zoforge gen`` adds to the manifest."""
        return {"refill_cycles": self.refill_cycles, "refresh": self.refresh,
                "refresh_cycles_per_query": self.refresh_cycles_per_query}

    # ---- the SourceSpec contract ----
    @property
    def outputs_per_cycle(self) -> int:
        return self.lanes

    @property
    def out_format(self) -> FixedFormat:
        return FixedFormat(self.bits, self.bits - 2, signed=True)

    def golden(self, count: int, *, seed: int | None = None) -> np.ndarray:
        codes = perturbation(self, 0, count * self.lanes, seed=seed)
        return codes.astype(np.int64).reshape(count, self.lanes)

    def seed_vector(self, seed: int) -> list[int]:
        return self.uniform.seed_vector(seed)

    def create(self):
        from ..gen.pezo import Pezo
        return Pezo(self)


# ---- host API -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _pool(spec: PezoSpec, seed: int | None) -> np.ndarray:
    codes = spec.uniform.golden(spec.rows, seed=seed).reshape(-1)
    codes.setflags(write=False)
    return codes


def pool_codes(spec: PezoSpec, seed: int | None = None) -> np.ndarray:
    """The P uniform codes (int64) of the pool filled after a reset (or a ``seed`` transfer)."""
    if spec.reuse != "pool":
        raise ValueError(f"pool_codes: {spec} has reuse={spec.reuse}, not pool")
    return _pool(spec, seed)


def _check_q(spec: PezoSpec, q: int | None) -> int:
    if q is None:
        return spec.q
    lo, hi = q_limits(spec.sfrac)
    if spec.scale != "norm" and q != spec.q:      # none, sqrt3, fold: a constant in the gateware
        raise ValueError(f"pezo: q={q} given but scale={spec.scale} has the constant q={spec.q}; "
                         f"a runtime q needs scale=norm")
    if not lo <= q <= hi:
        raise ValueError(f"pezo: q={q} is out of range; q must be in [{lo}, {hi}] for sfrac={spec.sfrac}")
    return q


def _codes_inplace(words: np.ndarray, width: int, bits: int) -> np.ndarray:
    """Uniform codes from native LFSR words, in place: the top ``bits`` of each ``width``-bit word as
    two's complement (the rule of ``uniform.words_to_codes``, without int64 temporaries)."""
    word_bits = words.dtype.itemsize * 8
    if word_bits > width:
        np.left_shift(words, word_bits - width, out=words)
    codes = words.view(np.int32 if word_bits == 32 else np.int64)
    np.right_shift(codes, word_bits - bits, out=codes)
    return codes


def _render(spec: PezoSpec, start: int, out: np.ndarray, seed: int | None, q: int | None,
            lsb: float | None = None) -> np.ndarray:
    """Write flat elements ``start .. start+len(out)-1`` into ``out``: scaled by q (None: the
    unscaled uniform codes), times ``lsb`` when given (real values).

    Every generated number is scaled once, before the reuse stage repeats it; buffers are reused
    between pieces (fresh large temporaries cost page faults that dominated the run time)."""
    if start < 0:
        raise ValueError(f"pezo: start={start} must be >= 0")
    end = start + len(out)

    def emit(codes, dst):                         # codes (wide signed ints) are modified in place
        if q is not None:
            scale_inplace(codes, q, spec.sfrac)
        if lsb is None:
            np.copyto(dst, codes, casting="unsafe")
        else:
            np.multiply(codes, lsb, out=dst, casting="unsafe")

    if len(out) == 0:
        return out
    if spec.reuse == "pool":
        table = np.empty(spec.pool, dtype=out.dtype)
        emit(np.array(pool_codes(spec, seed)), table)
        return tile(table, start, out)
    rotate, src = spec.reuse == "rotate", spec.uniform
    group = spec.lanes * (spec.hold if rotate else 1)         # elements per generated row
    first, last = start // group, -(-end // group)
    wide = spec.width > 32 or spec.bits + spec.sfrac > 31      # int32 holds u*q otherwise
    row, generated = first, None
    for words in lfsr_pieces(src.lfsr, last - first, seed=seed, start=first,
                             piece=max(64, _PIECE // src.lanes), dtype=np.uint32 if spec.width <= 32 else np.uint64):
        k = len(words)
        codes = _codes_inplace(words, src.width, src.bits)
        if wide and codes.dtype != np.int64:
            codes = codes.astype(np.int64)
        lo, hi = row * group, (row + k) * group                 # elements of this piece
        inside = start <= lo and hi <= end
        dst = (out[lo - start:hi - start] if inside else np.empty(hi - lo, dtype=out.dtype)).reshape(k, group)
        if rotate:
            if generated is None:
                generated = np.empty((k, src.lanes), dtype=out.dtype)
            emit(codes, generated[:k])
            rotate_blocks(generated[:k], row, spec.lanes, spec.gens, spec.hold, out=dst)
        else:
            emit(codes, dst)
        if not inside:
            a, b = max(lo, start), min(hi, end)
            out[a - start:b - start] = dst.reshape(-1)[a - lo:b - lo]
        row += k
    return out


def _output(length: int, dtype, out: np.ndarray | None) -> np.ndarray:
    return output_array("pezo", length, dtype, out)


def perturbation(spec: PezoSpec, start: int, length: int, seed: int | None = None,
                 q: int | None = None, *, out: np.ndarray | None = None) -> np.ndarray:
    """Codes (sQ1.(bits-2); int16, int32 for bits > 16) of flat elements start..start+length-1 of
    the stream after a reset or a seed transfer (``seed``), with scale numerator ``q`` (default
    ``spec.q``; another value only for scale=norm). Equals ``golden()`` flattened, bit for bit.
    ``out``: optional destination (saves the allocation)."""
    q = _check_q(spec, q)
    return _render(spec, start, _output(length, spec.code_dtype, out), seed, q)


def perturbation_values(spec: PezoSpec, start: int, length: int, seed: int | None = None,
                        q: int | None = None, *, dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`perturbation` as real values ``code / 2**(bits-2)``; exact in float32 (bits <= 24)."""
    q = _check_q(spec, q)
    return _render(spec, start, _output(length, np.dtype(dtype), out), seed, q, lsb=spec.out_format.lsb)


def unscaled(spec: PezoSpec, start: int, length: int, seed: int | None = None) -> np.ndarray:
    """The uniform codes (Q0.(bits-1)) that the reuse stage delivers for those elements."""
    return _render(spec, start, _output(length, spec.code_dtype, None), seed, None)


_SPLIT = 23               # squared codes (< 2**46) are summed as two int64 halves of 23 bits


@functools.lru_cache(maxsize=8)
def _pool_prefix(spec: PezoSpec, seed: int | None, q: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums of the squared pool codes (scaled by q, or unscaled for None), index k summing
    pool[:k], as (high, low) halves: a square is ``high << 23 | low``, and each half's sum over at most
    2**20 codes stays below 2**43, exact in int64 for every ``bits``."""
    codes = np.array(pool_codes(spec, seed))
    if q is not None:
        scale_inplace(codes, q, spec.sfrac)
    squares = codes * codes
    halves = []
    for part in (squares >> _SPLIT, squares & ((1 << _SPLIT) - 1)):
        prefix = np.concatenate([[0], np.cumsum(part)])
        prefix.setflags(write=False)
        halves.append(prefix)
    return tuple(halves)


def window_sumsq(spec: PezoSpec, start: int, length: int, seed: int | None = None, q: int | None = None) -> int:
    """Exact sum of squares of elements start..start+length-1 of the stream after a reset or a seed
    transfer: the uniform codes (q None) or the codes scaled by q. O(1) for a pool (cached prefix sums
    over whole laps plus one cyclic window), O(length) otherwise."""
    if length < 0 or start < 0:
        raise ValueError(f"window_sumsq: start={start} and length={length} must be >= 0")
    if spec.reuse == "pool":
        p = spec.pool
        laps, rest = divmod(length, p)
        a = start % p
        end = a + rest
        total = 0
        for shift, pre in zip((_SPLIT, 0), _pool_prefix(spec, seed, q)):
            part = laps * int(pre[p]) + int(pre[min(end, p)]) - int(pre[a])
            total += (part + (int(pre[end - p]) if end > p else 0)) << shift
        return total
    total, buf = 0, np.empty(min(length, _PIECE * 4), dtype=spec.code_dtype)
    for offset in range(0, length, max(1, len(buf))):
        part = buf[:min(len(buf), length - offset)]
        total += sum_squares(_render(spec, start + offset, part, seed, q))
    return total


def tensor_scale(spec: PezoSpec, start: int, length: int, seed: int | None = None) -> int:
    """The scale numerator q that makes elements start..start+length-1 (one tensor) have the expected
    norm of a standard Gaussian vector of that length (scale=norm; the host sends it on ``scale``
    before streaming the tensor). Clamped to [1, 2**(sfrac+1)-1]."""
    if length < 1:
        raise ValueError(f"tensor_scale: length={length} must be >= 1")
    return norm_q(window_sumsq(spec, start, length, seed), length, spec.bits, spec.sfrac)


def fold_factor(spec: PezoSpec, start: int, length: int, seed: int | None = None) -> float:
    """The real factor f with ``f * ||z||`` equal to the expected norm of a standard Gaussian vector of
    that length, z the spec's own codes (constant q) of elements start..start+length-1 as values: what
    ``scale=fold`` folds into the host's scalars for that tensor (eps and the update step). Kept in the
    range scale=norm's register allows, ``[1, 2**(sfrac+1)-1] / q``, so fold is norm with an
    unrounded factor."""
    if length < 1:
        raise ValueError(f"fold_factor: length={length} must be >= 1")
    return fold_from_sumsq(window_sumsq(spec, start, length, seed, spec.q), length, spec.q, spec.bits, spec.sfrac)
