"""Rademacher signs, optionally sparse, from one leap-forward LFSR (kind ``sign``).

Numbers. Each number is ``+v``, ``-v`` or (sparse only) ``0``. ``sparse = k`` spends ``1 + k`` random
bits on a number: the first is its sign (1 = negative), and the number is non-zero only when the
other ``k`` bits are all ones, so P(non-zero) = 2**-k. Non-zeros are ``v = 2**(k/2)``, which keeps the
variance at exactly 1; that is why ``k`` is even (an odd ``k`` would need an irrational ``v``).

Format. Every non-zero code is ``+-2**(bits-2)``, and the format carries ``v``: ``sQ(1+k/2).(bits-2-k/2)``.
Dense (``k = 0``) this is PeZO's ``sQ1.(bits-2)`` (+1.0 = code ``2**(bits-2)``), so a sign chain can
stand in for a PeZO chain; sparse formats have ``k/2`` fewer fraction bits (value ``2**(k/2)``).

Bits. ONE LFSR (``width``, ``form``, ``poly``) makes ``S = lanes * (1 + k)`` single steps per cycle
(its leap-forward matrix ``A**S``, derived from the one-step map). The cycle's ``S`` bits are the bits
the register shifts out during those steps (Galois: bit 0, Fibonacci: bit width-1), i.e. consecutive
bits of one m-sequence; bit ``i`` of the cycle is row ``i`` of :attr:`SignSpec.tap_matrix`, the out
bit of ``A**i`` applied to the cycle's state. Lane ``l`` takes bits ``l*(1+k) .. l*(1+k)+k``. So
flat element ``e`` (word ``e // lanes``, lane ``e % lanes``) is made of m-sequence bits
``(1+k)e .. (1+k)e+k`` whatever ``lanes`` is, and every bit of the sequence is used once per period.
(Reading the state bits directly would be free for Fibonacci but, in Galois form, repeats bits at
small lags in other lanes; the tap rows cost at most a few XORs and avoid that for both forms.)
``S <= width`` is required: a cycle's bits are distinct bits of the state's future.

Statistics (exact over a period, up to the one missing all-zero LFSR state): a full period of the
cycle's orbit holds every non-zero ``width``-bit window once, so signs are balanced up to 1 in
2**width and any two distinct bits are uncorrelated; k+1 consecutive bits are uniform up to the same
bias, so P(non-zero) = 2**-k. Period: ``(2**width - 1) / gcd(S, 2**width - 1)`` cycles.

Seeds: as one lane of :class:`LFSRSpec` (``seed_vector(seed)`` has one word, ``lane_seeds``).

Host API (vectorised, bit-exact with ``golden()``, random access by element):

Members
-------
SignSpec                                      the spec; ``lfsr``, ``step``, ``tap_matrix``, ``code``,
                                              ``period``, ``latency`` and the SourceSpec contract
perturbation(spec, start, length, seed=None)          codes (int16, int32 for bits > 16)
perturbation_values(spec, start, length, seed=None)   the same as float32 values, exact
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat
from .gf2 import Matrix, apply_tables
from .lfsr import LFSRSpec, form_param, lfsr_pieces, lfsr_words, poly_param, seed_param, width_param
from .source import SourceSpec, output_array
from .spec import SpecError, param, register

__all__ = ["SignSpec", "perturbation", "perturbation_values"]

SPARSE = (0, 2, 4, 6, 8)
_PIECE = 1 << 15          # LFSR words per piece of the host path (up to 2**20 numbers)


@register
@dataclass(frozen=True, kw_only=True)
class SignSpec(SourceSpec):
    """Rademacher signs (+-1), or sparse signs (+-2**(k/2) with probability 2**-k, else 0), ``lanes``
    per cycle from one LFSR stepped ``lanes*(1+sparse)`` bits per cycle."""

    KIND = "sign"
    SUMMARY = "Rademacher signs (sparse: +-2**(k/2) w.p. 2**-k, else 0) from one leap-forward LFSR, 1+k bits each"

    lanes: int = param(8, lo=1, hi=64, doc="numbers per cycle", shown="an integer in [1, width // (1+sparse)]")
    bits: int = param(16, lo=2, hi=24, doc="bits per number; format sQ(1+sparse/2).(bits-2-sparse/2)",
                      shown="an integer in [2 + sparse/2, 24]")
    sparse: int = param(0, choices=SPARSE, doc="non-zero with probability 2**-sparse (even: variance stays 1)")
    width: int = width_param()
    form: str = form_param()
    seed: int = seed_param()
    poly: int = poly_param()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "poly", self.lfsr.poly)

    def validate(self) -> None:
        half = self.sparse // 2
        if self.bits < 2 + half:
            self.fail("bits", f"has no room for the value 2**{half} of sparse={self.sparse}; "
                              f"bits must be in [{2 + half}, 24]")
        if self.step > self.width:
            self.fail("lanes", f"needs lanes*(1+sparse) = {self.step} LFSR bits per cycle, more than "
                               f"width={self.width}; lanes must be <= {self.width // (1 + self.sparse)} "
                               f"(or raise width)")
        try:
            _ = self.lfsr
        except SpecError as e:           # seed/poly messages of the LFSR, under this kind
            raise SpecError(self.KIND + str(e)[str(e).index(":"):]) from None

    # ---- derived values (read these; never re-derive them elsewhere) ----
    @property
    def step(self) -> int:
        """LFSR single steps (random bits) per cycle."""
        return self.lanes * (1 + self.sparse)

    @functools.cached_property
    def lfsr(self) -> LFSRSpec:
        """The one LFSR, leap-forward by ``step``; one lane, so the seed vector is one word."""
        return LFSRSpec(width=self.width, lanes=1, form=self.form, step=self.step, seed=self.seed,
                        poly=self.poly)

    @functools.cached_property
    def tap_matrix(self) -> Matrix:
        """Row i (< step): the bit the LFSR shifts out at single step i of a cycle, as a function of
        the cycle's state; rows >= step are zero."""
        return _tap_matrix(self.lfsr, self.step)

    @property
    def code(self) -> int:
        """The code of every non-zero number (its sign aside)."""
        return 1 << (self.bits - 2)

    @property
    def period(self) -> int:
        """Cycles after which the stream repeats."""
        return self.lfsr.period // math.gcd(self.step, self.lfsr.period)

    @property
    def latency(self) -> int:
        """Cycles from reset (or a seed transfer) to the first valid word."""
        return 0

    # ---- the SourceSpec contract ----
    @property
    def outputs_per_cycle(self) -> int:
        return self.lanes

    @property
    def out_format(self) -> FixedFormat:
        return FixedFormat(self.bits, self.bits - 2 - self.sparse // 2, signed=True)

    def golden(self, count: int, *, seed: int | None = None) -> np.ndarray:
        """The cycle structure of the gateware: one state per cycle, its tap bits split into lanes."""
        states = lfsr_words(self.lfsr, count, seed=seed)[:, 0]
        taps = apply_tables(_tables(self.tap_matrix), states)
        return _numbers(taps, self.lanes, self.sparse, np.array([self.code, -self.code], np.int64))

    def seed_vector(self, seed: int) -> list[int]:
        return self.lfsr.lane_seeds(seed)

    def create(self):
        from ..gen.sign import Sign
        return Sign(self)


def _tap_matrix(lfsr: LFSRSpec, steps: int) -> Matrix:
    out = 0 if lfsr.form == "galois" else lfsr.width - 1     # the bit a single step shifts out
    rows, power = [], Matrix.identity(lfsr.width)
    for _ in range(steps):
        rows.append(power.rows[out])
        power = power @ lfsr.matrix
    return Matrix(tuple(rows) + (0,) * (lfsr.width - steps))


@functools.lru_cache(maxsize=32)
def _tables(matrix: Matrix) -> np.ndarray:
    tables = matrix.byte_tables()
    tables.setflags(write=False)
    return tables


def _numbers(taps: np.ndarray, per_word: int, sparse: int, lut: np.ndarray, out: np.ndarray | None = None):
    """Numbers from tap words (bit i = random bit i of the word): (words, per_word) entries of ``lut``
    ([+v, -v], any dtype), zero unless the ``sparse`` bits after each sign bit are all ones.

    Vectorised as one table gather per index of ``c`` numbers (up to 8 random bits; a byte holds
    8 dense numbers), ``c`` a divisor of ``per_word``."""
    group = 1 + sparse
    c = max(d for d in range(1, max(1, 8 // group) + 1) if per_word % d == 0)
    table = _chunk_table(tuple(lut.tolist()), lut.dtype, sparse, c)
    shifts = np.arange(0, per_word * group, c * group, dtype=np.int64)
    index = (taps.view(np.int64)[:, None] >> shifts) & ((1 << (c * group)) - 1)
    if out is not None:
        out = out.reshape(len(taps), per_word // c, c)
    return np.take(table, index, axis=0, out=out).reshape(len(taps), per_word)


@functools.lru_cache(maxsize=64)
def _chunk_table(lut: tuple, dtype, sparse: int, c: int) -> np.ndarray:
    """(2**(c*(1+sparse)), c): the c numbers whose random bits are the index, low bits first."""
    group = 1 + sparse
    index = np.arange(1 << (c * group))[:, None] >> (group * np.arange(c))[None, :]
    sign, nonzero = index & 1, (index >> 1) & ((1 << sparse) - 1) == (1 << sparse) - 1
    table = np.where(nonzero, np.array(lut, dtype)[sign], 0).astype(dtype)
    table.setflags(write=False)
    return table


# ---- host API -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _host_lfsr(spec: SignSpec) -> tuple[LFSRSpec, np.ndarray]:
    """The same m-sequence read ``width // (1+sparse)`` numbers per LFSR word (more than the
    gateware's ``lanes``): same start state (one lane), a larger leap, fewer words to generate."""
    per_word = spec.width // (1 + spec.sparse)
    host = spec.lfsr.replace(step=per_word * (1 + spec.sparse))
    return host, _tables(_tap_matrix(host, host.step))


def _render(spec: SignSpec, start: int, out: np.ndarray, seed: int | None, lut: np.ndarray) -> np.ndarray:
    if start < 0:
        raise ValueError(f"sign: start={start} must be >= 0")
    if len(out) == 0:
        return out
    host, tables = _host_lfsr(spec)
    per_word, end = host.step // (1 + spec.sparse), start + len(out)
    first, last = start // per_word, -(-end // per_word)
    pos = first * per_word                              # element index of the piece's first number
    buffer = np.empty(min(last - first, _PIECE) * per_word, dtype=out.dtype)
    for words in lfsr_pieces(host, last - first, seed=seed, start=first, piece=_PIECE):
        n = len(words) * per_word
        numbers = _numbers(apply_tables(tables, words[:, 0]), per_word, spec.sparse, lut,
                           out=buffer[:n].reshape(len(words), per_word)).reshape(-1)
        a, b = max(pos, start), min(pos + n, end)
        out[a - start:b - start] = numbers[a - pos:b - pos]
        pos += n
    return out


def _output(length: int, dtype, out: np.ndarray | None) -> np.ndarray:
    return output_array("sign", length, dtype, out)


def perturbation(spec: SignSpec, start: int, length: int, seed: int | None = None, *,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Codes of flat elements start .. start+length-1 of the stream after a reset or a seed transfer
    (``seed``); int16 (int32 for bits > 16). Equals ``golden()`` flattened, bit for bit."""
    lut = np.array([spec.code, -spec.code], dtype=spec.code_dtype)
    return _render(spec, start, _output(length, spec.code_dtype, out), seed, lut)


def perturbation_values(spec: SignSpec, start: int, length: int, seed: int | None = None, *,
                        dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`perturbation` as real values (+-2**(sparse/2) or 0), exact in any float type."""
    value = spec.code * spec.out_format.lsb
    return _render(spec, start, _output(length, np.dtype(dtype), out), seed, np.array([value, -value], dtype))
