"""PeZO's perturbation: z from any random-number spec (``pezo``, ``gaussian``, ``uniform``) via its
golden model, mapped onto the weights exactly as the hardware streams them.

Mapping (one *query* = one perturbation of the whole trainable vector):

* The stream has ``lanes`` numbers per word. Segment k of the :class:`Layout` (one HF tensor, storage
  order) takes stream elements ``start + off_k .. start + off_k + len_k - 1``, ``off_k`` from
  :meth:`Layout.stream_offsets` (each tensor starts on a word boundary), so one query consumes
  ``Layout.stream_length(lanes)`` elements, a whole number of words.
* Which seed and start query j uses is :func:`zoforge.golden.queries.query_position`, the definition the
  engine trainer uses too: a pool continues where the previous query stopped (the engine's START row)
  and is reseeded every ``refresh`` queries of its spec (never for refresh=0); any other source is
  reseeded every query (the SEED command) and starts at element 0.
  Caveat, measured in benchmarks/zo_quality.py: a pool that is never refreshed gives only
  ``pool / gcd(stream_length, pool)`` distinct perturbations, cyclically (16 for GPT-2 124M with a
  4096-number pool, 1 whenever the pool divides the stream length).
* ``scale=norm``: before each tensor the host sets the scale register to
  ``tensor_scale(spec, start + off_k, len_k, seed)``, the q that gives that tensor's perturbation the
  expected norm of a standard Gaussian vector of its length; ``none``/``sqrt3`` use the spec's constant q.
* ``scale=fold``: the codes are the constant-q ones, and segment k's perturbation is ``f_k * z_k`` with
  ``f_k = fold_factor(spec, start + off_k, len_k, seed)``: every pass multiplies its scalars (eps, the
  update step) by f_k for that segment, so the norm matching costs the hardware nothing.

What is exact: the integer z codes of every tensor, for every query, equal the hardware stream bit for bit
(``golden``, ``perturbation``, the engine model), on any machine. The weights are float32 here and fixed
point on the FPGA, so the weights themselves are not the FPGA's: z enters as ``code * 2**-frac``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...golden.pezo import PezoSpec, fold_factor, pool_codes, tensor_scale, window_sumsq
from ...golden.queries import query_position
from ...golden.reuse import tile
from ...golden.scale import fold_from_sumsq, norm_q, scale_inplace
from .layout import Layout
from .passes import SUB, Pass, apply_pass
from .spec_render import stream_codes, stream_values
from .workers import Workers

__all__ = ["Query", "SpecPerturbation"]

_CHUNK = 1 << 20          # elements per task (one render call of a generated stream)
_TABLE_FLOATS = 1 << 24   # bound of the cached pool tables (64 MiB)


@dataclass(frozen=True)
class Query:
    seed: int | None                         # LFSR seed sent with SEED; None: the pool filled at reset
    start: int                               # stream position of the vector's first element
    scales: tuple[int, ...] | None = None    # per-segment q (scale=norm)
    factors: tuple[float, ...] | None = None # per-segment f: the perturbation is f * z (scale=fold)

    def q(self, k: int) -> int | None:
        return None if self.scales is None else self.scales[k]

    def factor(self, k: int) -> float:
        return 1.0 if self.factors is None else self.factors[k]

    def pass_for(self, k: int, op: Pass) -> Pass:
        """``op`` for segment k: the scalars of the z terms times the segment's factor."""
        f = self.factor(k)
        return op if f == 1.0 else Pass(a=op.a * f, decay=op.decay, b=op.b * f)


class SpecPerturbation:
    """Perturbations of the trainable vector from the stream of ``spec``; ``run_seed`` and ``queries``
    (per step) place each query (:func:`query_position`)."""

    def __init__(self, spec, layout: Layout, workers: Workers, *, run_seed: int = 0, queries: int = 1):
        self.spec, self.layout, self.workers = spec, layout, workers
        self.run_seed, self.queries = run_seed, queries
        self.lanes = spec.outputs_per_cycle
        self.offsets = layout.stream_offsets(self.lanes)
        self.stream_length = layout.stream_length(self.lanes)
        pezo = isinstance(spec, PezoSpec)
        self.is_pool = pezo and spec.reuse == "pool"
        self.is_norm = pezo and spec.scale == "norm"
        self.is_fold = pezo and spec.scale == "fold"
        self._tables: dict[tuple, np.ndarray] = {}
        self._codes: dict = {}                     # seed -> pool codes in the narrowest type that holds u*q
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return str(self.spec)

    # ---- queries ----------------------------------------------------------------------------------
    def query(self, index: int, seed: int | None = None) -> Query:
        """Query number ``index`` of the run (``step * queries + i``). ``seed`` (the query seed a MeZO
        source would use) is not needed: the position comes from :func:`query_position`."""
        lfsr_seed, start = self.position(index)
        return Query(lfsr_seed, start, self._per_segment(start, lfsr_seed, "norm"),
                     self._per_segment(start, lfsr_seed, "fold"))

    def position(self, index: int) -> tuple[int | None, int]:
        """(LFSR seed or None for the reset pool, stream start) of query ``index``: what the host sends
        with SEED and START."""
        return query_position(self.spec, index, self.stream_length, self.run_seed, self.queries)

    def _per_segment(self, start: int, seed: int | None, mode: str) -> tuple | None:
        """The per-segment q (mode norm) or f (mode fold) of a query; None if the spec does not use it."""
        if not (self.is_norm if mode == "norm" else self.is_fold):
            return None
        spec, segs = self.spec, self.layout.segments
        if self.is_pool:                           # O(1) per tensor: the golden prefix sums
            one = tensor_scale if mode == "norm" else fold_factor
            return tuple(one(spec, start + off, s.length, seed) for s, off in zip(segs, self.offsets))
        # the same golden definition, its sums of squares chunked over threads
        q = None if mode == "norm" else spec.q
        tasks = [(k, a, min(a + _CHUNK, s.length)) for k, s in enumerate(segs) for a in range(0, s.length, _CHUNK)]

        def sumsq(task):
            k, a, b = task
            return k, window_sumsq(spec, start + self.offsets[k] + a, b - a, seed, q)

        totals = [0] * len(segs)
        for k, value in self.workers.run(sumsq, tasks):
            totals[k] += value
        if mode == "norm":
            return tuple(norm_q(t, s.length, spec.bits, spec.sfrac) for t, s in zip(totals, segs))
        return tuple(fold_from_sumsq(t, s.length, spec.q, spec.bits, spec.sfrac) for t, s in zip(totals, segs))

    def _pool(self, seed: int | None) -> np.ndarray:
        """The pool filled from ``seed`` in the narrowest integer type that holds u*q; the last two kept."""
        with self._lock:
            codes = self._codes.get(seed)
            if codes is None:
                wide = self.spec.bits + self.spec.sfrac > 30
                codes = pool_codes(self.spec, seed).astype(np.int64 if wide else np.int32)
                if len(self._codes) >= 2:
                    self._codes.pop(next(iter(self._codes)))
                self._codes[seed] = codes
            return codes

    # ---- the numbers --------------------------------------------------------------------------------
    def codes(self, query: Query, k: int) -> np.ndarray:
        """Integer codes of segment k's perturbation (tests, and anyone comparing with hardware)."""
        s = self.layout.segments[k]
        return stream_codes(self.spec, query.start + self.offsets[k], s.length, query.seed, query.q(k))

    def values(self, query: Query, k: int, first: int, n: int) -> np.ndarray:
        """z (a new float32 array) of segment k's elements ``first .. first+n-1`` (without the fold factor)."""
        s, pos = self.layout.segments[k], query.start + self.offsets[k] + first
        if self.is_pool:
            return self._pool_values(query.seed, query.q(k) or self.spec.q, pos, n, s.length)
        return stream_values(self.spec, pos, np.empty(n, np.float32), query.seed, query.q(k))

    def full(self, query: Query) -> np.ndarray:
        """z over the whole trainable vector, as values (reference path: allocates its full size). With
        scale=fold the perturbation of segment k is ``query.factor(k)`` times this."""
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
            return tile(self._table(seed, q), pos, out)
        pool = self._pool(seed)
        codes = tile(pool, pos, np.empty(n, pool.dtype))
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
            s, op_k = segs[k], query.pass_for(k, op)
            tmp = workers.scratch("tmp", SUB)
            z = stream_values(self.spec, query.start + self.offsets[k] + a, workers.scratch("z", b - a),
                              query.seed, query.q(k))
            for i in range(a, b, SUB):
                j = min(i + SUB, b)
                apply_pass(data[s.start + i:s.start + j], z[i - a:j - a], op_k, s.decay, tmp)

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
                s, op_k = segs[k], query.pass_for(k, op)
                z = self._pool_values(query.seed, query.q(k) or self.spec.q, query.start + self.offsets[k],
                                      min(width, s.length), s.length)
                bases[k] = (z * op_k.a if op_k.a else None, z * op_k.b if op_k.b else None)

        def run(task):
            k, a, b = task
            s, op_k = segs[k], query.pass_for(k, op)
            q = query.q(k) or self.spec.q
            for i in range(a, b, SUB):
                j = min(i + SUB, b)
                w = data[s.start + i:s.start + j]
                if periodic:
                    _apply_periodic(w, bases[k], width, op_k, s.decay)
                else:
                    z = self._pool_values(query.seed, q, query.start + self.offsets[k] + i, j - i, s.length)
                    apply_pass(w, z, op_k, s.decay, workers.scratch("tmp", SUB))

        workers.run(run, tasks)

    # ---- the fused path: several passes at once, on chosen units (zoforge.host.optim.lazy) ------------
    # A *unit* is one task of :meth:`SpecPerturbation.apply`: (segment k, chunk a..b). Applying a list of
    # (query, Pass) to a unit applies them in order to every element, one L2-sized sub-chunk at a time, so
    # the weights are read and written once however many passes are folded together. Per element the
    # arithmetic is :func:`apply_pass`'s, in the same order, so the bits equal the separate passes.

    @cached_property
    def units(self) -> tuple[tuple[int, int, int], ...]:
        return tuple((k, a, min(a + _CHUNK, s.length)) for k, s in enumerate(self.layout.segments)
                     for a in range(0, s.length, _CHUNK))

    @cached_property
    def segment_units(self) -> tuple[tuple[int, ...], ...]:
        """For each segment, the indices of its units."""
        out = [[] for _ in self.layout.segments]
        for u, (k, _, _) in enumerate(self.units):
            out[k].append(u)
        return tuple(tuple(x) for x in out)

    def apply_units(self, data: np.ndarray, ops, units) -> None:
        """Apply the passes ``ops`` (a list of (Query, Pass), in order) to the units ``units``."""
        workers, segs, spec = self.workers, self.layout.segments, self.spec
        periodic = self.is_pool and SUB % spec.pool == 0
        width = max(spec.pool, 4096) if periodic else SUB
        tasks = [self.units[u] for u in units]
        bases = {}
        if periodic:                             # a*z and b*z once per (pass, segment): see _apply_pool
            for k in {k for k, _, _ in tasks}:
                s = segs[k]
                for i, (query, op) in enumerate(ops):
                    op_k = query.pass_for(k, op)
                    z = self._pool_values(query.seed, query.q(k) or spec.q, query.start + self.offsets[k],
                                          min(width, s.length), s.length)
                    bases[i, k] = (z * op_k.a if op_k.a else None, z * op_k.b if op_k.b else None)

        def run(task):
            k, a, b = task
            s = segs[k]
            todo = [(i, query, query.pass_for(k, op)) for i, (query, op) in enumerate(ops) if op.touches(s.decay)]
            if not todo:
                return
            zs = {}
            if not periodic:                     # each pass's z for the whole chunk, then one sweep of w
                for i, query, _ in todo:
                    z = workers.scratch(f"z{i}", b - a)
                    if self.is_pool:
                        z[:] = self._pool_values(query.seed, query.q(k) or spec.q, query.start + self.offsets[k] + a,
                                                 b - a, s.length)
                    else:
                        stream_values(spec, query.start + self.offsets[k] + a, z, query.seed, query.q(k))
                    zs[i] = z
            tmp = workers.scratch("tmp", SUB)
            for lo in range(a, b, SUB):
                hi = min(lo + SUB, b)
                w = data[s.start + lo:s.start + hi]
                for i, _, op_k in todo:
                    if periodic:
                        _apply_periodic(w, bases[i, k], width, op_k, s.decay)
                    else:
                        apply_pass(w, zs[i][lo - a:hi - a], op_k, s.decay, tmp)

        workers.run(run, tasks)


def _apply_periodic(w: np.ndarray, base, width: int, op: Pass, decayed: bool) -> None:
    """A pass over ``w`` with the period's products ``base = (a*z, b*z)`` (K long) broadcast over its rows
    of K weights, then over the remainder."""
    za, zb = base
    rows = len(w) // width * width
    for part, n in ((w[:rows].reshape(-1, width), width), (w[rows:], len(w) - rows)):
        if part.size:
            _apply_terms(part, za[:n] if za is not None else None, op, decayed, zb[:n] if zb is not None else None)


def _apply_terms(w: np.ndarray, za, op: Pass, decayed: bool, zb) -> None:
    """``apply_pass`` with the products a*z and b*z precomputed (broadcast over rows of w)."""
    if za is not None:
        w += za
    if decayed and op.decay is not None:
        w *= op.decay
    if zb is not None:
        w += zb


