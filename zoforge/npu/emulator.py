"""NPU dataflow emulator: runs a GEMM :class:`~zoforge.npu.plan.Plan` in numpy, object by object.

What it reproduces (docs/references.md#npu-objectfifo-semantics, docs/references.md#npu-access-patterns,
docs/references.md#npu-bf16-rounding):

* Object fifos as rings of ``depth`` objects per endpoint with producer/consumer cursors; a broadcast
  copies each object into every consumer's own ring and frees the producer slot only when all got it.
* Memtile links: a split/forward ring is written by the shim and read by one DMA per branch (its own
  ``dims_to_stream`` at its offset), freed when every branch has sent; a join ring's object is complete
  only when every branch has written its part.
* Shim transfers run the planned access patterns over the host buffers, in issue order per channel,
  in task groups (group g is finished after group g+1 was issued). A transfer that is not a whole
  number of objects, an access outside a buffer, a memtile pattern that is not a permutation of its
  region (a wrong size or stride), an input element never read or an output element not written
  exactly once are errors, not silently computed. So is a deadlock, and a run that leaves objects in
  fifos or cores in the middle of their loops (their loop counts do not match the data moved).
* Cores are coroutines that persist across runs (the xclbin is not reloaded): each run writes the
  run-time parameters, sets the barrier, and every core runs ``tiles`` x (zero, ``k_iters*depth`` x
  matmul). The kernel model reads its L1 buffers in the micro-kernel's blocked layout (r x s, s x t or
  t x s, r x t blocks), derived here from (r, s, t) independently of the plan's patterns, so a layout
  mistake in the plan gives wrong numbers.

Numerics: bf16 inputs (RNE from fp32 on the host), products and sums in fp32 (a bf16 x bf16 product is
exact in fp32; the sum order within a call is numpy's, not the hardware's), C accumulated in fp32 across
calls; with out=bf16 C is rounded to bf16 after every call (RNE or truncation, the spec's ``rounding``).
Integer inputs are exact: products summed in float64 (exact below 2**53) and C checked to fit i32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .design import GemmSpec, Shape
from .numerics import STORAGE, from_bf16, from_device, to_bf16, to_device
from .perturb import PerturbCall, core_pool, perturb_tile, tile_z
from .plan import Plan, Tile, plans as make_plans, topology

__all__ = ["EmulationError", "NpuEmulator", "EmuStats", "reference", "error_bound", "emulate"]

U32 = 2.0 ** -24        # unit roundoff of fp32


class EmulationError(RuntimeError):
    """The plan cannot run as written (deadlock, partial objects, wrong pattern, desynchronised loops)."""


@dataclass
class EmuStats:
    kernel_calls: int = 0
    objects: dict[str, int] = field(default_factory=dict)    # per fifo, this run
    shim_bytes_in: int = 0
    shim_bytes_out: int = 0
    rounds: int = 0


class _Ring:
    """``depth`` objects of one fifo endpoint (or one memtile link ring) with writer/reader cursors."""

    def __init__(self, name: str, depth: int, elems: int, dtype: str, writers: int = 1, readers: int = 1):
        self.name, self.depth, self.elems = name, depth, elems
        self.buf = np.zeros((depth, elems), dtype=STORAGE[dtype])
        self.w = [0] * writers
        self.r = [0] * readers

    def writable(self, i: int = 0) -> bool:
        return self.w[i] - min(self.r) < self.depth

    def readable(self, i: int = 0) -> bool:
        return self.r[i] < min(self.w)

    def wslot(self, i: int = 0) -> np.ndarray:
        return self.buf[self.w[i] % self.depth]

    def rslot(self, i: int = 0) -> np.ndarray:
        return self.buf[self.r[i] % self.depth]

    @property
    def held(self) -> int:
        return max(self.w) - min(self.r)


def _kernel_maps(spec: GemmSpec):
    """Position in the blocked L1 buffer of every logical element of A (m,k), B (k,n), C (m,n)."""
    m, k, n = spec.m, spec.k, spec.n
    r, s, t = spec.mac_dims
    i, j = np.ogrid[:m, :k]
    a = ((i // r) * (k // s) + j // s) * (r * s) + (i % r) * s + j % s
    kk, nn = np.ogrid[:k, :n]
    if spec.b_layout == "col":     # t x s blocks of B^T
        b = ((nn // t) * (k // s) + kk // s) * (t * s) + (nn % t) * s + kk % s
    else:                          # s x t blocks of B
        b = ((kk // s) * (n // t) + nn // t) * (s * t) + (kk % s) * t + nn % t
    i, j = np.ogrid[:m, :n]
    c = ((i // r) * (n // t) + j // t) * (r * t) + (i % r) * t + j % t
    return a, b, c


class NpuEmulator:
    """One configured array (one xclbin): fifos, links, DMAs and cores that persist across :meth:`run_plan`."""

    def __init__(self, spec: GemmSpec, topo=None):
        """``topo`` overrides the spec's topology (tests run deliberately broken ones)."""
        self.spec = spec
        self.topo = topo if topo is not None else topology(spec)
        self._maps = _kernel_maps(spec)
        self._events = 0
        self._waiting: dict[str, str] = {}
        self._barrier: dict[Tile, int] = {}
        self._rtp: dict[Tile, tuple[int, ...]] = {}
        self._calls = 0
        self._objects: dict[str, int] = {}
        self._perm_ok: set = set()
        self._tile_no: dict[Tile, int] = {}
        self._perturb = None
        self._build()

    # ---- construction: rings and the persistent actors (DMAs configured in the xclbin, cores) ----
    def _build(self) -> None:
        topo = self.topo
        self.rings: dict[tuple[str, Tile], _Ring] = {}
        self.sources: dict[str, tuple] = {}      # fifo -> (ring, reader index, offset)
        self.sinks: dict[str, list] = {}         # fifo -> [(ring, writer index, offset)]
        for link in topo.links:
            if link.kind == "join":
                out = topo.fifos[link.outputs[0]]
                ring = _Ring(f"{out.name}@{link.tile}", out.depth, out.elems, out.dtype, writers=len(link.inputs))
                for j, name in enumerate(link.inputs):
                    self.sinks.setdefault(name, []).append((ring, j, link.offsets[j]))
                self.sources[out.name] = (ring, 0, 0)
            else:
                src = topo.fifos[link.inputs[0]]
                ring = _Ring(f"{src.name}@{link.tile}", src.depth, src.elems, src.dtype, readers=len(link.outputs))
                self.sinks.setdefault(src.name, []).append((ring, 0, 0))
                for j, name in enumerate(link.outputs):
                    self.sources[name] = (ring, j, link.offsets[j])
            self.rings[(ring.name, link.tile)] = ring
        self.core_rings: dict[tuple[str, Tile], _Ring] = {}
        for w in topo.workers:
            for name in (w.a, w.b, w.c):
                f = topo.fifos[name]
                ring = _Ring(f"{name}@{w.tile}", f.depth, f.elems, f.dtype)
                self.core_rings[(name, w.tile)] = ring
                if name == w.c:
                    self.sources[name] = (ring, 0, 0)
                else:
                    self.sinks.setdefault(name, []).append((ring, 0, 0))
        self.persistent = [self._mover(name) for name, f in topo.fifos.items()
                           if f.producer.kind != "shim" and all(c.kind != "shim" for c in f.consumers)]
        self.persistent += [self._core(w) for w in topo.workers]

    # ---- actors --------------------------------------------------------------------------------
    def _wait(self, who: str, what: str, cond):
        while not cond():
            self._waiting[who] = what
            yield
        self._waiting.pop(who, None)

    def _stream(self, name: str):
        """Indices the producer DMA of ``name`` reads in its source slot, checked once per pattern."""
        f = self.topo.fifos[name]
        ring, _, offset = self.sources[name]
        if f.dims_to_stream is None:
            return None if offset == 0 else np.arange(offset, offset + f.elems)
        pat = f.dims_to_stream
        key = (name, pat, offset)
        try:
            idx = type(pat)(pat.sizes, pat.strides, pat.offset + offset).extended(f.elems).indices()
        except ValueError as e:
            raise EmulationError(f"{name}: {e}") from None
        if key not in self._perm_ok:
            if idx.min() < 0 or idx.max() >= ring.elems:
                raise EmulationError(f"dims_to_stream of {name} reads elements {idx.min()}..{idx.max()} of a "
                                     f"{ring.elems}-element object")
            seen = np.bincount(idx - offset, minlength=f.elems) if idx.min() >= offset else None
            if seen is None or len(seen) != f.elems or (seen != 1).any():
                twice = int((seen > 1).sum()) if seen is not None else -1
                raise EmulationError(f"dims_to_stream of {name} ({pat}) is not a permutation of its "
                                     f"{f.elems}-element region at offset {offset}: {twice} elements read more "
                                     f"than once; wrong size or stride?")
            self._perm_ok.add(key)
        return idx

    def _mover(self, name: str):
        """The DMA of a fifo between two array tiles (core -> memtile, memtile -> cores)."""
        ring, ri, _ = self.sources[name]
        sinks = self.sinks[name]
        idx = self._stream(name)
        who = f"dma {name}"
        while True:
            yield from self._wait(who, f"an object of {ring.name} and room in "
                                  f"{', '.join(p.name for p, _, _ in sinks)}",
                                  lambda: ring.readable(ri) and all(p.writable(wi) for p, wi, _ in sinks))
            data = ring.rslot(ri) if idx is None else ring.rslot(ri)[idx]
            for p, wi, off in sinks:
                p.wslot(wi)[off:off + len(data)] = data
                p.w[wi] += 1
            ring.r[ri] += 1
            self._count(name)

    def _core(self, w):
        a_ring, b_ring = self.core_rings[(w.a, w.tile)], self.core_rings[(w.b, w.tile)]
        c_ring = self.core_rings[(w.c, w.tile)]
        who = f"core {w.tile}"
        depth = self.spec.depth
        while True:
            yield from self._wait(who, "the run-time-parameter barrier", lambda: self._barrier.get(w.tile, 0) > 0)
            self._barrier[w.tile] -= 1
            _, k_iters, tiles = self._rtp[w.tile]
            for tile in range(tiles):
                tile_no = self._tile_no.get(w.tile, 0)      # this core's tile count in the shape
                self._tile_no[w.tile] = tile_no + 1
                yield from self._wait(who, f"a free C object in {c_ring.name} (tile {tile + 1}/{tiles})",
                                      c_ring.writable)
                c = c_ring.wslot()
                c[:] = 0
                for step in range(k_iters * depth):
                    yield from self._wait(who, f"A and B objects (tile {tile + 1}/{tiles}, k step "
                                               f"{step + 1}/{k_iters * depth})",
                                          lambda: a_ring.readable() and b_ring.readable())
                    b = b_ring.rslot()
                    if self._perturb is not None:
                        b = self._perturbed(b, w.tile.col, tile_no, step)
                    self._kernel(a_ring.rslot(), b, c)
                    a_ring.r[0] += 1
                    b_ring.r[0] += 1
                    self._events += 1
                c_ring.w[0] += 1
                self._events += 1

    def _kernel(self, a_blk, b_blk, c_blk) -> None:
        """C += A @ B on blocked L1 buffers (the mm.cc contract, docs/references.md#npu-mm-kernel)."""
        amap, bmap, cmap = self._maps
        spec = self.spec
        self._calls += 1
        if spec.is_integer:
            acc = c_blk[cmap].astype(np.int64) + np.rint(
                a_blk[amap].astype(np.float64) @ b_blk[bmap].astype(np.float64)).astype(np.int64)
            if acc.size and (acc.min() < -(1 << 31) or acc.max() > (1 << 31) - 1):
                raise EmulationError("integer overflow: a partial sum of C exceeds the i32 range")
            c_blk[cmap] = acc
            return
        a, b = from_bf16(a_blk[amap]), from_bf16(b_blk[bmap])
        if spec.dtype_out == "bf16":
            acc = from_bf16(c_blk[cmap]) + a @ b
            c_blk[cmap] = to_bf16(acc, spec.rounding)
        else:
            c_blk[cmap] = c_blk[cmap] + a @ b

    def _count(self, name: str) -> None:
        self._events += 1
        self._objects[name] = self._objects.get(name, 0) + 1

    # ---- one run -------------------------------------------------------------------------------
    def run_plan(self, p: Plan, bufs: dict[str, np.ndarray], *, check: bool = True) -> EmuStats:
        """Run one invocation: ``bufs`` maps A, B, C to flat device-dtype host buffers (C is written)."""
        return self.run_plans((p,), bufs, check=check)

    def run_plans(self, parts, bufs: dict[str, np.ndarray], *, check: bool = True,
                  perturb: PerturbCall | None = None) -> EmuStats:
        """Run the invocations of one shape in order on the same array (the runs of
        :func:`~.plan.plans`); every A and B element must be read and every C element written once over
        all of them. ``perturb``: the cores perturb each B object with PeZO's pool before its matmul
        (a design with ``perturb=``; :mod:`.perturb`)."""
        parts = tuple(parts)
        self._start_perturb(parts[0].shape if parts else None, perturb)
        for p in parts:
            if p.topology != self.topo:
                raise EmulationError(f"plan is for another array ({p.spec}); this one was built from {self.spec}")
            if check:
                from .validate import require_valid
                require_valid(p)
            for name, (dtype, elems) in p.buffers.items():
                buf = bufs[name]
                if buf.dtype != STORAGE[dtype] or buf.size != elems:
                    raise EmulationError(f"buffer {name}: need {elems} elements of {dtype}, got {buf.size} of {buf.dtype}")
        self._objects = {}
        self._calls = 0
        self._reads = {n: np.zeros(bufs[n].size, dtype=bool) for n in ("A", "B")}
        self._writes = np.zeros(bufs["C"].size, dtype=np.int32)
        stats = EmuStats()
        for p in parts:
            self._run_one(p, bufs, stats)
        self._check_coverage()
        stats.kernel_calls = self._calls
        stats.objects = dict(self._objects)
        return stats

    def _start_perturb(self, shape, call: PerturbCall | None) -> None:
        """The cores' perturbation state for one shape: pool (filled from the seed), K, column blocks;
        each core counts its tiles from 0 (its tile order is row-major over C's blocks, :mod:`.plan`)."""
        self._tile_no: dict[Tile, int] = {}
        self._perturb = None
        if call is None:
            return
        pezo = self.spec.pezo
        if pezo is None:
            raise EmulationError(f"perturb given but the design {self.spec} has perturb=none")
        self._perturb = (pezo, core_pool(pezo, call.seed), call, shape.K, shape.N // (self.spec.n * self.spec.cols))

    def _perturbed(self, b_blk: np.ndarray, col: int, tile_no: int, step: int) -> np.ndarray:
        """The core's perturbation of one B object in L1 (a copy in the same blocked layout)."""
        pezo, pool, call, K, col_blocks = self._perturb
        spec, bmap = self.spec, self._maps[1]
        n0 = (tile_no % col_blocks * spec.cols + col) * spec.n
        z = tile_z(pezo, pool, call, K, step * spec.k, n0, spec.k, spec.n)
        out = b_blk.copy()
        out[bmap] = perturb_tile(b_blk[bmap], z, call, n0)
        return out

    def _run_one(self, p: Plan, bufs, stats: EmuStats) -> None:
        # host: run-time parameters, then the barrier (the runtime sequence's first ops)
        for tile, values in p.rtp.items():
            self._rtp[tile] = values
            self._barrier[tile] = self._barrier.get(tile, 0) + 1
        queues: dict[str, list] = {}
        done: set[int] = set()
        channels = {}
        seq = self._sequence(p, queues, done)
        actors = [seq] + self.persistent
        finished = False
        while True:
            before = self._events
            for fifo, q in queues.items():
                if fifo not in channels:
                    channels[fifo] = self._channel(fifo, q, done, bufs, p, stats)
                    actors.append(channels[fifo])
            for actor in list(actors):
                try:
                    next(actor)
                except StopIteration:
                    actors.remove(actor)
                    if actor is seq:
                        finished = True
            stats.rounds += 1
            if self._events == before:
                if finished:
                    break
                raise EmulationError("deadlock: " + _summary(self._waiting))
        self._check_end(p)

    def _sequence(self, p: Plan, queues, done):
        """The runtime sequence: issue group g, then finish group g-1 (await its waits, free its BDs)."""
        by_group: dict[int, list[int]] = {}
        for i, t in enumerate(p.transfers):
            by_group.setdefault(t.group, []).append(i)
        order = sorted(by_group)
        for pos, g in enumerate(order):
            for i in by_group[g]:
                queues.setdefault(p.transfers[i].fifo, []).append(i)
            self._events += 1
            if pos:
                yield from self._finish(p, by_group[order[pos - 1]], done, order[pos - 1])
        if order:
            yield from self._finish(p, by_group[order[-1]], done, order[-1])

    def _finish(self, p, ids, done, g):
        waits = [i for i in ids if p.transfers[i].wait]
        yield from self._wait("runtime sequence", f"the awaited transfers {waits} of task group {g}",
                              lambda: all(i in done for i in waits))
        running = [i for i in ids if i not in done]
        if running:
            raise EmulationError(f"task group {g} finished while transfers {running} still run: their BDs are "
                                 f"freed under them (await them, or order the group so they finish first)")
        self._events += 1

    def _channel(self, fifo: str, queue: list, done: set, bufs, p: Plan, stats: EmuStats):
        """One shim DMA channel: runs the transfers queued for ``fifo`` in issue order."""
        f = self.topo.fifos[fifo]
        pos = 0
        while True:
            yield from self._wait(f"shim {fifo}", "the next transfer", lambda: pos < len(queue))
            i = queue[pos]
            t = p.transfers[i]
            host = bufs[t.buffer]
            idx = t.tap.indices()
            if idx.size and (idx.min() < 0 or idx.max() >= host.size):
                raise EmulationError(f"{t.op} #{i} of {fifo}: pattern ({t.tap}) reaches elements "
                                     f"{idx.min()}..{idx.max()} of {t.buffer} ({host.size} elements)")
            if idx.size % f.elems:
                raise EmulationError(f"{t.op} #{i} of {fifo}: {idx.size} elements are {idx.size / f.elems:g} objects "
                                     f"of {f.elems}; a transfer must cover whole fifo objects")
            nbytes = idx.size * host.itemsize
            if t.op == "fill":
                stream = host[idx]
                self._reads[t.buffer][idx] = True
                stats.shim_bytes_in += nbytes
                for o in range(idx.size // f.elems):
                    sinks = self.sinks[fifo]
                    yield from self._wait(f"shim {fifo}", f"room in {', '.join(s.name for s, _, _ in sinks)}",
                                          lambda: all(s.writable(wi) for s, wi, _ in sinks))
                    chunk = stream[o * f.elems:(o + 1) * f.elems]
                    for s, wi, off in sinks:
                        s.wslot(wi)[off:off + f.elems] = chunk
                        s.w[wi] += 1
                    self._count(fifo)
            else:
                ring, ri, _ = self.sources[fifo]
                sidx = self._stream(fifo)
                for o in range(idx.size // f.elems):
                    yield from self._wait(f"shim {fifo}", f"an object of {ring.name}", lambda: ring.readable(ri))
                    data = ring.rslot(ri) if sidx is None else ring.rslot(ri)[sidx]
                    dst = idx[o * f.elems:(o + 1) * f.elems]
                    host[dst] = data
                    self._writes[dst] += 1
                    ring.r[ri] += 1
                    self._count(fifo)
                stats.shim_bytes_out += nbytes
            done.add(i)
            self._events += 1
            pos += 1

    def _check_end(self, p: Plan) -> None:
        busy = [f"core {t}: {self._waiting.get(f'core {t}', '?')}" for t in p.rtp
                if self._waiting.get(f"core {t}") != "the run-time-parameter barrier"]
        if busy:
            raise EmulationError("desynchronised: after the run " + "; ".join(busy) +
                                 " -- the cores' loop counts do not match the data moved")
        left = [f"{ring.name} holds {ring.held}" for ring in [*self.rings.values(), *self.core_rings.values()]
                if ring.held]
        if left:
            raise EmulationError("desynchronised: objects left in fifos after the run: " + ", ".join(left))

    def _check_coverage(self) -> None:
        for name in ("A", "B"):
            missed = int((~self._reads[name]).sum())
            if missed:
                raise EmulationError(f"{missed} elements of {name} were never read: a transfer pattern is wrong")
        bad = int((self._writes != 1).sum())
        if bad:
            raise EmulationError(f"{bad} elements of C were written {sorted(set(self._writes[self._writes != 1].tolist()))[:3]}"
                                 f" times instead of once: a drain pattern is wrong")

    # ---- host view -----------------------------------------------------------------------------
    def run(self, a: np.ndarray, b: np.ndarray, *, check: bool = True,
            perturb: PerturbCall | None = None) -> tuple[np.ndarray, EmuStats]:
        """C = A @ B for host arrays A (M,K) and B (K,N): converts to the device dtypes and B's layout,
        runs the plan of this shape, returns C as float32 (bf16/f32 out) or int32. ``perturb``: C =
        A @ (B + a z) with z from PeZO's pool, computed inside the cores (:mod:`.perturb`)."""
        spec = self.spec
        shape = Shape(a.shape[0], a.shape[1], b.shape[1])
        if b.shape[0] != shape.K:
            raise ValueError(f"emulate: shapes {a.shape} and {b.shape} do not chain")
        parts = make_plans(spec, shape)
        a_dev = to_device(np.ascontiguousarray(a), spec.dtype_in).reshape(-1)
        b_host = b.T if spec.b_layout == "col" else b
        b_dev = to_device(np.ascontiguousarray(b_host), spec.dtype_in).reshape(-1)
        c_dev = np.zeros(shape.M * shape.N, dtype=STORAGE[spec.dtype_out])
        stats = self.run_plans(parts, {"A": a_dev, "B": b_dev, "C": c_dev}, check=check, perturb=perturb)
        return from_device(c_dev, spec.dtype_out).reshape(shape.M, shape.N), stats


def _summary(waiting: dict[str, str], keep: int = 6) -> str:
    """The blocked actors, runtime sequence and shim channels first (they tell what is missing)."""
    order = sorted(waiting.items(), key=lambda kv: (not kv[0].startswith(("runtime", "shim")), kv[0]))
    text = "; ".join(f"{w} waits for {what}" for w, what in order[:keep])
    return text + (f"; and {len(order) - keep} more" if len(order) > keep else "")


def emulate(spec: GemmSpec, a: np.ndarray, b: np.ndarray, *, check: bool = True):
    """One-shot: a fresh array, one run."""
    return NpuEmulator(spec).run(a, b, check=check)


def reference(spec: GemmSpec, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What the emulator is compared with: the exact integer product (int64), or the float64 matmul of
    the same bf16-rounded inputs (products exact, sum within K * 2^-53 of exact)."""
    if spec.is_integer:
        return a.astype(np.int64) @ b.astype(np.int64)
    return from_bf16(to_bf16(a)).astype(np.float64) @ from_bf16(to_bf16(b)).astype(np.float64)


U64 = 2.0 ** -53        # unit roundoff of float64


def error_bound(spec: GemmSpec, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise tolerance of a bf16 run against :func:`reference`, a worst case (no statistics).

    Derivation (u = 2^-24, g(n) = nu/(1-nu); Higham, Accuracy and Stability of Numerical Algorithms,
    2nd ed., eqs. 4.3 and 4.4): a bf16 x bf16 product has at most 16 significant bits, so it is exact in
    fp32 (barring underflow). Each of the J = K/k kernel calls sums k products in fp32 in some order,
    within g(k-1) * (|A_j|@|B_j|) of its exact value p_j whatever the order. C starts at zero and adds
    the J call results one after another (c_j = fl(c_{j-1} + p_j)); that recursive sum's own rounding
    error is at most u * sum_{j>=2} |c_j|, and |c_j| <= |S_j| + g(k+J) * (|A|@|B|) with S_j the exact
    partial sums. So, for out=f32:

        |C - exact| <= (g(k-1)(1+u)^J + u(J-1)g(k+J)) * (|A|@|B|) + u * sum_{j>=2} |S_j|

    The last term follows the data (partial sums of random-sign terms grow like sqrt(j), not like
    |A|@|B|), which makes the bound about 100x tighter than g(k+J) * (|A|@|B|) at K = 50304.
    With out=bf16, C is rounded after each call, a relative error of at most 2^-8 (RNE) or 2^-7 (trunc)
    of a partial sum bounded by |A|@|B|, compounding to ((1+u)^(k+J) (1+rho)^J - 1) * (|A|@|B|).
    The float64 reference and the float64 sums above add (1+2^-53)^K - 1 relative to |A|@|B|."""
    if spec.is_integer:
        return np.zeros((a.shape[0], b.shape[1]))
    K, k = a.shape[1], spec.k
    a64 = from_bf16(to_bf16(a)).astype(np.float64)
    b64 = from_bf16(to_bf16(b)).astype(np.float64)
    mag = np.abs(a64) @ np.abs(b64)
    calls = math.ceil(K / k)
    ref = 2 * math.expm1(math.log1p(U64) * K)
    if spec.dtype_out == "bf16":
        grow = math.log1p(U32) * (k + calls) + math.log1p(2.0 ** -8 if spec.rounding == "rne" else 2.0 ** -7) * calls
        return (math.expm1(grow) + ref) * mag

    def g(n: int) -> float:
        return n * U32 / (1 - n * U32)

    rel = g(k - 1) * math.exp(math.log1p(U32) * calls) + U32 * (calls - 1) * g(k + calls) + ref
    return rel * mag + U32 * (1 + ref) * _partial_sums(a64, b64, k)


def _partial_sums(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """sum over j >= 2 of |S_j|, S_j = the exact sum of the first j kernel calls' products (float64),
    computed a few rows at a time so the (calls, rows, N) stack stays near 64 MB."""
    M, K = a.shape
    N = b.shape[1]
    calls = math.ceil(K / k)
    if calls < 2:
        return np.zeros((M, N))
    pad = calls * k - K
    if pad:
        a, b = np.pad(a, ((0, 0), (0, pad))), np.pad(b, ((0, pad), (0, 0)))
    bj = b.reshape(calls, k, N)
    out = np.empty((M, N))
    rows = max(1, (8 << 20) // (calls * N))
    for r0 in range(0, M, rows):
        aj = a[r0:r0 + rows].reshape(-1, calls, k).transpose(1, 0, 2)
        partial = np.cumsum(np.matmul(aj, bj), axis=0)
        out[r0:r0 + rows] = np.abs(partial[1:]).sum(axis=0)
    return out
