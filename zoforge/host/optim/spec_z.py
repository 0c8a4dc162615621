"""PeZO's perturbation: z from any random-number spec (``pezo``, ``gaussian``, ``uniform``) via its
golden model, mapped onto the weights exactly as the hardware streams them.

Mapping (one *query* = one perturbation of the whole trainable vector):

* The stream has ``lanes`` numbers per word. Segment k of the :class:`Layout` (one HF tensor, storage
  order) takes stream elements ``start + off_k .. start + off_k + len_k - 1``, ``off_k`` from
  :meth:`Layout.stream_offsets` (each tensor starts on a word boundary), so one query consumes
  ``Layout.stream_length(lanes)`` elements, a whole number of words.
* ``reuse=pool``: the pool is filled once from the spec's seed (hardware reset) and never reseeded;
  the query's ``start`` is where the previous query stopped, modulo the pool: query j of the run
  (``j = step * q + i``) starts at ``j * stream_length mod pool``, always a whole row, which the host
  replays with the engine's START command (row = start / lanes) for +eps, -2 eps, +eps and the update.
  Caveat, measured in benchmarks/zo_quality.py: that gives only ``pool / gcd(stream_length, pool)``
  distinct perturbations, cyclically (16 for GPT-2 124M with a 4096-number pool, 1 whenever the pool
  divides the stream length). With ``refresh=R`` the host sends a new seed every R queries (the SEED
  command refills the pool, P/lanes cycles, and restarts it at element 0), seed
  ``query_seed(run_seed, block, 0)`` for block ``j // R``; within a block the start continues.
* any other source (``rotate``, ``none``, Gaussian approximators, plain uniforms): every query reseeds
  the chain (the SEED command) with a seed derived from the run's seed, the step and the query index,
  and starts at element 0.
* ``scale=norm``: before each tensor the host sets the scale register to
  ``tensor_scale(spec, start + off_k, len_k, seed)``, the q that gives that tensor's perturbation the
  expected norm of a standard Gaussian vector of its length; ``none``/``sqrt3`` use the spec's constant q.

What is exact: the integer z codes of every tensor, for every query, equal the hardware stream bit for bit
(``golden``, ``perturbation``, the engine model), on any machine. The weights are float32 here and fixed
point on the FPGA, so the weights themselves are not the FPGA's: z enters as ``code * 2**-frac``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import numpy as np

from ...golden.pezo import PezoSpec, pool_codes, unscaled
from ...golden.scale import norm_q, scale_inplace, sum_squares
from .layout import Layout
from .passes import SUB, Pass, apply_pass
from .spec_render import stream_codes, stream_values
from .workers import Workers

__all__ = ["Query", "SpecPerturbation"]

_CHUNK = 1 << 20          # elements per task (one render call of a generated stream)
_TABLE_FLOATS = 1 << 24   # bound of the cached pool tables (64 MiB)


@dataclass(frozen=True)
class Query:
    seed: int | None                       # LFSR seed sent with SEED; None: the spec's own (pool)
    start: int                             # stream position of the vector's first element
    scales: tuple[int, ...] | None = None  # per-segment q (scale=norm)

    def q(self, k: int) -> int | None:
        return None if self.scales is None else self.scales[k]


class SpecPerturbation:
    """Perturbations of the trainable vector from the stream of ``spec``."""

    def __init__(self, spec, layout: Layout, workers: Workers, *, refresh: int = 0, run_seed: int = 0):
        self.spec, self.layout, self.workers = spec, layout, workers
        self.refresh, self.run_seed = refresh, run_seed
        self.lanes = spec.outputs_per_cycle
        self.offsets = layout.stream_offsets(self.lanes)
        self.stream_length = layout.stream_length(self.lanes)
        self.is_pool = isinstance(spec, PezoSpec) and spec.reuse == "pool"
        self.is_norm = isinstance(spec, PezoSpec) and spec.scale == "norm"
        self.seed_bits = spec.uniform.width if hasattr(spec, "uniform") else spec.width
        self._tables: dict[tuple, np.ndarray] = {}
        self._pools: dict = {}                     # seed -> (codes, prefix sums of squares)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return str(self.spec) + (f" (pool refreshed every {self.refresh} queries)" if self.refresh else "")

    # ---- queries ----------------------------------------------------------------------------------
    def query(self, index: int, seed: int) -> Query:
        """Query number ``index`` of the run (``step * q + i``); ``seed`` is used unless the source is a
        pool (then the position in the pool is what changes)."""
        lfsr_seed, start = self.position(index, seed)
        return Query(lfsr_seed, start, self._scales(start, lfsr_seed))

    def position(self, index: int, seed: int) -> tuple[int | None, int]:
        """(LFSR seed or None for the reset pool, stream start) of query ``index``: what the host sends
        with SEED and START."""
        if not self.is_pool:
            return self._lfsr_seed(seed), 0
        pool_seed = None
        if self.refresh:
            from .zo import query_seed
            block, index = divmod(index, self.refresh)
            pool_seed = self._lfsr_seed(query_seed(self.run_seed, block, 0))
        return pool_seed, (index * self.stream_length) % self.spec.pool

    def _lfsr_seed(self, seed: int) -> int:
        return seed & ((1 << self.seed_bits) - 1) or 1                  # an LFSR seed is never 0

    def _scales(self, start: int, seed: int | None) -> tuple[int, ...] | None:
        if not self.is_norm:
            return None
        segs = self.layout.segments
        if self.is_pool:
            return tuple(self._pool_q(seed, start + off, s.length) for s, off in zip(segs, self.offsets))
        # tensor_scale, chunked over threads: q is norm_q of the exact sum of squares of the unscaled codes
        tasks = [(k, a, min(a + _CHUNK, s.length)) for k, s in enumerate(segs) for a in range(0, s.length, _CHUNK)]

        def sumsq(task):
            k, a, b = task
            return k, sum_squares(unscaled(self.spec, start + self.offsets[k] + a, b - a, seed))

        totals = [0] * len(segs)
        for k, value in self.workers.run(sumsq, tasks):
            totals[k] += value
        return tuple(norm_q(t, s.length, self.spec.bits, self.spec.sfrac) for t, s in zip(totals, segs))

    def _pool(self, seed: int | None):
        """(codes in the narrowest integer type that holds u*q, prefix sums of squared codes) of the pool
        filled from ``seed``; the last few pools are kept."""
        with self._lock:
            entry = self._pools.get(seed)
            if entry is None:
                c = pool_codes(self.spec, seed).astype(np.int64)
                wide = self.spec.bits + self.spec.sfrac > 30
                squares = c * c                  # < 2**46; the running sum needs Python ints past 2**63
                prefix = np.concatenate([[0], np.cumsum(squares)]) if self.spec.bits <= 20 else \
                    [0, *itertools.accumulate(int(v) for v in squares)]
                entry = (c.astype(np.int64 if wide else np.int32), prefix)
                if len(self._pools) >= 2:
                    self._pools.pop(next(iter(self._pools)))
                self._pools[seed] = entry
            return entry

    def _pool_q(self, seed: int | None, start: int, length: int) -> int:
        """``tensor_scale`` for a pool in O(1): prefix sums of the pool's squared codes."""
        pre, p = self._pool(seed)[1], self.spec.pool

        def window(a, n):                          # sum of squares of pool[a : a+n], a < p, n <= p
            end = a + n
            return int(pre[min(end, p)] - pre[a]) + (int(pre[end - p]) if end > p else 0)

        laps, rest = divmod(length, p)
        sumsq = laps * int(pre[p]) + window(start % p, rest)
        return norm_q(sumsq, length, self.spec.bits, self.spec.sfrac)

    # ---- the numbers --------------------------------------------------------------------------------
    def codes(self, query: Query, k: int) -> np.ndarray:
        """Integer codes of segment k's perturbation (tests, and anyone comparing with hardware)."""
        s = self.layout.segments[k]
        return stream_codes(self.spec, query.start + self.offsets[k], s.length, query.seed, query.q(k))

    def full(self, query: Query) -> np.ndarray:
        """z over the whole trainable vector, as values (reference path: allocates its full size)."""
        out = np.empty(self.layout.size, np.float32)
        for k, s in enumerate(self.layout.segments):
            stream_values(self.spec, query.start + self.offsets[k], out[s.offset:s.offset + s.length],
                          query.seed, query.q(k))
        return out

    def _table(self, seed: int | None, q: int) -> np.ndarray:
        """One period of the pool as values for scale numerator q (cached while the pool lives)."""
        with self._lock:
            t = self._tables.get((seed, q))
            if t is None:
                if len(self._tables) * self.spec.pool >= _TABLE_FLOATS or any(k[0] != seed for k in self._tables):
                    self._tables.clear()
                t = self._tables[(seed, q)] = stream_values(self.spec, 0, np.empty(self.spec.pool, np.float32), seed, q)
            return t

    def _pool_values(self, seed: int | None, q: int, pos: int, n: int, seg_len: int) -> np.ndarray:
        """A new array of the pool values at stream positions pos .. pos+n-1. Long tensors read a cached
        table of scaled values; short ones (scale=norm gives them many distinct q) scale only their
        window of codes."""
        out = np.empty(n, np.float32)
        if seg_len >= self.spec.pool or self.spec.pool <= SUB:
            return _tile(self._table(seed, q), pos, out)
        pool = self._pool(seed)[0]
        codes = _tile(pool, pos, np.empty(n, pool.dtype))
        scale_inplace(codes, q, self.spec.sfrac)
        np.multiply(codes, self.spec.out_format.lsb, out=out, casting="unsafe")
        return out

    # ---- a pass over the weights ------------------------------------------------------------------
    def apply(self, data: np.ndarray, query: Query, op: Pass) -> None:
        if self.is_pool:
            return self._apply_pool(data, query, op)
        workers, segs = self.workers, self.layout.segments
        tasks = [(k, a, min(a + _CHUNK, s.length)) for k, s in enumerate(segs) if op.touches(s.decay)
                 for a in range(0, s.length, _CHUNK)]

        def run(task):
            k, a, b = task
            s = segs[k]
            tmp = workers.scratch("tmp", SUB)
            z = stream_values(self.spec, query.start + self.offsets[k] + a, workers.scratch("z", b - a),
                              query.seed, query.q(k))
            for i in range(a, b, SUB):
                j = min(i + SUB, b)
                apply_pass(data[s.start + i:s.start + j], z[i - a:j - a], op, s.decay, tmp)

        workers.run(run, tasks)

    def _apply_pool(self, data: np.ndarray, query: Query, op: Pass) -> None:
        """The pool's z is periodic: when the period P divides the sub-chunk size, every sub-chunk of a
        tensor sees the same K-long pattern (K a multiple of P), so ``a*z`` and ``b*z`` are computed
        once per tensor and broadcast over rows of K weights: the pass costs little more than reading
        and writing the weights once. Same arithmetic, element by element, as :func:`apply_pass`."""
        workers, segs, p = self.workers, self.layout.segments, self.spec.pool
        periodic = SUB % p == 0
        width = max(p, 4096) if periodic else SUB          # K (or the sub-chunk, when not periodic)
        tasks = [(k, a, min(a + _CHUNK, s.length)) for k, s in enumerate(segs) if op.touches(s.decay)
                 for a in range(0, s.length, _CHUNK)]
        bases = {}
        if periodic:
            for k in {k for k, _, _ in tasks}:
                s = segs[k]
                z = self._pool_values(query.seed, query.q(k) or self.spec.q, query.start + self.offsets[k],
                                      min(width, s.length), s.length)
                bases[k] = (z * op.a if op.a else None, z * op.b if op.b else None)

        def run(task):
            k, a, b = task
            s = segs[k]
            q = query.q(k) or self.spec.q
            for i in range(a, b, SUB):
                j = min(i + SUB, b)
                w = data[s.start + i:s.start + j]
                if periodic:
                    za, zb = bases[k]
                    rows = len(w) // width * width
                    for part, n in ((w[:rows].reshape(-1, width), width), (w[rows:], len(w) - rows)):
                        if part.size:
                            _apply_terms(part, za[:n] if za is not None else None, op, s.decay,
                                         zb[:n] if zb is not None else None)
                else:
                    z = self._pool_values(query.seed, q, query.start + self.offsets[k] + i, j - i, s.length)
                    apply_pass(w, z, op, s.decay, workers.scratch("tmp", SUB))

        workers.run(run, tasks)


def _apply_terms(w: np.ndarray, za, op: Pass, decayed: bool, zb) -> None:
    """``apply_pass`` with the products a*z and b*z precomputed (broadcast over rows of w)."""
    if za is not None:
        w += za
    if decayed and op.decay is not None:
        w *= op.decay
    if zb is not None:
        w += zb


def _tile(table: np.ndarray, offset: int, out: np.ndarray) -> np.ndarray:
    """out[k] = table[(offset + k) mod len(table)], by doubling copies (fast for tiny pools too)."""
    p, n = len(table), len(out)
    a = offset % p
    first = min(n, p - a)
    out[:first] = table[a:a + first]
    filled = first
    if filled < n:                                  # complete one rotated period, then double it
        m = min(n - filled, a)
        out[filled:filled + m] = table[:m]
        filled += m
    while filled < n:                               # filled is a whole number of periods here
        m = min(filled, n - filled)
        out[filled:filled + m] = out[:m]
        filled += m
    return out
