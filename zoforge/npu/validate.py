"""The hardware rules of the NPU, each explained in one line with the numbers (sources: the entries of
``docs/references.md`` cited in :mod:`.hardware`).

Three levels, each returning a list of :class:`Violation`:

* :func:`spec_violations` -- rules that need only the spec: device columns, dtypes, kernel micro-tile
  divisibility, then the fifo topology's L1/L2 capacity (with the fifo depth), locks, buffer
  descriptors, DMA channels and memtile/core access patterns. :class:`~.design.GemmSpec` runs these
  eagerly, so a spec that exists fits the hardware.
* :func:`shape_violations` -- a shape against a spec: divisibility by the array block, then every rule of
  the shape's plan.
* :func:`plan_violations` -- everything a (possibly hand-edited) :class:`~.plan.Plan` must satisfy:
  topology rules plus shim access patterns, repeat counts, whole-object transfers, BDs in flight,
  instruction words and the data volume the cores' loop counts expect.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from .hardware import (CORE, DEVICES, DTYPE_BYTES, KERNEL_EXPANSION, MAX_INSTR_WORDS, MEMTILE, RTP_WORDS, SHIM,
                       SHIM_MAX_REPEAT, STACK_BYTES, VERIFIER, WORD_BYTES, TileLimits)
from .pattern import Pattern

__all__ = ["Violation", "spec_violations", "shape_violations", "plan_violations", "topology_violations",
           "pattern_violations", "require_valid"]

LIMITS = {"shim": SHIM, "memtile": MEMTILE, "core": CORE}
I32_MAX = (1 << 31) - 1


@dataclass(frozen=True)
class Violation:
    rule: str        # short rule name, e.g. "l1_capacity"
    message: str     # one line with the numbers

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def _kb(n: int) -> str:
    return f"{n:,} B"


# ---- spec level ---------------------------------------------------------------------------------

def spec_violations(spec) -> list[Violation]:
    from .design import DTYPE_PAIRS
    out = []
    dev = DEVICES[spec.device]
    if spec.cols > dev.columns:
        out.append(Violation("device_columns", f"cols={spec.cols} exceeds the {dev.columns} columns of "
                                               f"device={spec.device}; cols must be in [1, {dev.columns}]"))
    if spec.dtype_out not in DTYPE_PAIRS[spec.dtype_in]:
        out.append(Violation("dtypes", f"out={spec.dtype_out} does not go with in={spec.dtype_in}; out must be "
                                       f"{'|'.join(DTYPE_PAIRS[spec.dtype_in])} for in={spec.dtype_in}"))
    if spec.rows % spec.a_memtiles:
        out.append(Violation("a_distribution", f"rows={spec.rows} is not a multiple of cols={spec.cols}: the rows' A "
                                               f"tiles cannot be split evenly over {spec.a_memtiles} memtiles"))
    r, s, t = spec.mac_dims
    er, et = KERNEL_EXPANSION[spec.device][spec.dtype_in]
    for name, value, step, why in (("m", spec.m, r * er, f"r={r} x expansion {er}"), ("k", spec.k, s, f"s={s}"),
                                   ("n", spec.n, t * et, f"t={t} x expansion {et}")):
        if value % step:
            out.append(Violation("micro_tile", f"{name}={value} is not a multiple of {step}, the {spec.dtype_in} "
                                               f"micro-kernel tile on {spec.device} ({why}); {name} must be a "
                                               f"multiple of {step}"))
    if spec.perturb != "none":
        out += _perturb_violations(spec)
    if out:
        return out          # the topology below assumes the parameters fit together
    from .plan import topology
    return topology_violations(topology(spec))


def _perturb_violations(spec) -> list[Violation]:
    """The fused PeZO perturbation (zoforge.npu.perturb) perturbs bf16 weights stored as B^T."""
    from ..golden.spec import SpecError
    from .perturb import pezo_spec
    try:
        pezo_spec(spec.perturb)
    except SpecError as e:
        return [Violation("perturb", str(e).removeprefix("gemm: "))]
    out = []
    if spec.dtype_in != "bf16":
        out.append(Violation("perturb", f"perturb={spec.perturb} needs in=bf16 (the weights are perturbed in "
                                        f"fp32 and rounded to bf16), not in={spec.dtype_in}"))
    if spec.b_layout != "col":
        out.append(Violation("perturb", f"perturb={spec.perturb} needs b_layout=col (B is the weight W stored "
                                        f"(N, K), as the PeZO stream walks it), not b_layout={spec.b_layout}"))
    return out


def topology_violations(topo) -> list[Violation]:
    out = []
    for tile in topo.tiles:
        out += _tile_resources(topo, tile)
    for f in topo.fifos.values():
        if f.dims_to_stream is not None:
            buffer = _l2_object_elems(topo, f)
            for offset in _branch_offsets(topo, f):
                pat = Pattern(f.dims_to_stream.sizes, f.dims_to_stream.strides, offset)
                out += pattern_violations(pat, f.producer.kind, f.dtype, buffer, f"dims_to_stream of {f.name}",
                                          length=f.elems)
        for tile in (f.producer, *f.consumers):
            lim = LIMITS[tile.kind]
            if tile.kind != "shim" and f.bytes // WORD_BYTES > lim.max_len_words:
                out.append(Violation("bd_length", f"{f.name}: one object is {f.bytes // WORD_BYTES:,} words but a "
                                                  f"{tile.kind} BD moves at most {lim.max_len_words:,} words"))
    return out


def _l2_object_elems(topo, f) -> int:
    """Elements of the buffer a fifo's producer DMA reads: the L2 object of the link it leaves."""
    for link in topo.links:
        if f.name in link.outputs and link.kind != "join":
            return topo.fifos[link.inputs[0]].elems
    return f.elems


def _branch_offsets(topo, f) -> list[int]:
    for link in topo.links:
        if f.name in link.outputs and link.kind != "join":
            return [link.offsets[link.outputs.index(f.name)]]
    return [0]


def _tile_resources(topo, tile) -> list[Violation]:
    out = []
    lim: TileLimits = LIMITS[tile.kind]
    ends = topo.endpoints(tile)
    # DMA channels: data arriving from another tile uses an S2MM channel, data leaving an MM2S one.
    s2mm = [f.name for f, side in ends if side == "cons"]
    mm2s = [f.name for f, side in ends if side == "prod"]
    if tile.kind == "core":
        # a worker's own endpoints are L1 buffers; only the cross-tile traffic needs channels
        s2mm = [n for n in s2mm if topo.fifos[n].producer != tile]
        mm2s = [n for n in mm2s if any(c != tile for c in topo.fifos[n].consumers)]
    for direction, used, limit in (("S2MM (in)", s2mm, lim.s2mm), ("MM2S (out)", mm2s, lim.mm2s)):
        if len(used) > limit:
            out.append(Violation("dma_channels", f"{tile.kind} {tile} needs {len(used)} {direction} DMA channels "
                                                 f"({', '.join(used)}) but has {limit}"))
    if tile.kind == "shim":
        return out
    # Locks: two per fifo endpoint (producer + consumer lock); a core also holds its RTP barrier lock.
    locks = 2 * len(ends) + (1 if tile.kind == "core" else 0)
    if locks > lim.locks:
        out.append(Violation("locks", f"{tile.kind} {tile} needs {locks} locks (2 x {len(ends)} fifo endpoints"
                                      f"{' + 1 RTP barrier' if tile.kind == 'core' else ''}) but has {lim.locks}"))
    # BDs: each endpoint's DMA cycles through one BD per object of its ring.
    bds = sum(f.depth for f, _ in ends)
    if bds > lim.bds:
        out.append(Violation("bds", f"{tile.kind} {tile} needs {bds} buffer descriptors (one per fifo object: "
                                    f"{' + '.join(str(f.depth) for f, _ in ends)}) but has {lim.bds}"))
    if tile.kind == "core":
        from . import perturb
        parts = [(f.name, f.depth, f.bytes) for f, _ in ends]
        pezo = topo.spec.pezo
        rtp = (RTP_WORDS + perturb.rtp_words(pezo)) * 4
        pool = perturb.l1_bytes(pezo)                 # the PeZO pool the core perturbs B from
        total = sum(d * b for _, d, b in parts) + STACK_BYTES + rtp + pool
        if total > lim.memory_bytes:
            detail = " + ".join(f"{name} {d}x{b:,}" for name, d, b in parts)
            out.append(Violation("l1_capacity", f"L1 of core {tile} needs {_kb(total)} ({detail} + stack "
                                                f"{STACK_BYTES:,} + rtp {rtp}{f' + pezo pool {pool:,}' if pool else ''}"
                                                f") > {_kb(lim.memory_bytes)}; reduce m, k, n, depth or the pool, "
                                                f"or single-buffer C (c_depth=1)"))
    else:
        parts = topo.l2_buffers(tile)
        total = sum(b for _, b in parts)
        if total > lim.memory_bytes:
            detail = " + ".join(f"{name} {b:,}" for name, b in parts)
            out.append(Violation("l2_capacity", f"memtile {tile} needs {_kb(total)} ({detail}) > "
                                                f"{_kb(lim.memory_bytes)}; reduce m, k, n, rows or depth"))
    return out


# ---- access patterns ----------------------------------------------------------------------------

def pattern_violations(pat: Pattern, kind: str, dtype: str, buffer_elems: int, what: str,
                       length: int | None = None) -> list[Violation]:
    """Rules of one BD/TAP on a ``kind`` tile over a buffer of ``buffer_elems`` elements of ``dtype``.
    Shim TAPs have 4 entries: dimension 0 is the repeat (iteration) dimension."""
    out = []
    lim = LIMITS[kind]
    size_b = DTYPE_BYTES[dtype]
    sizes, strides = list(pat.sizes), list(pat.strides)
    max_dims = lim.max_dims + (1 if kind == "shim" else 0)
    if len(sizes) > max_dims:
        out.append(Violation("bd_dims", f"{what}: {len(sizes)} dimensions but a {kind} BD has at most {max_dims}"
                                        f"{' (3 + repeat)' if kind == 'shim' else ''}"))
        return out
    if length is not None and kind != "shim":
        try:
            pat = pat.extended(length)        # what the hardware runs (outermost dim keeps going)
        except ValueError as e:
            return [Violation("whole_objects", f"{what}: {e}")]
        sizes = list(pat.sizes)
    if kind == "shim" and len(sizes) == 4:
        repeat, rep_stride = sizes[0], strides[0]
        if repeat > SHIM_MAX_REPEAT:
            out.append(Violation("shim_repeat", f"{what}: repeat count {repeat} (sizes[0]) exceeds the shim BD's "
                                                f"{SHIM_MAX_REPEAT}; split the transfer"))
        if repeat == 1:
            rep_stride = 0      # iterated once: the stride is never applied
        if rep_stride * size_b % WORD_BYTES:
            out.append(Violation("granularity", f"{what}: repeat stride {rep_stride} x {size_b} B is not a "
                                                f"multiple of 4 bytes"))
        if rep_stride * size_b // WORD_BYTES > lim.max_stride_words:
            out.append(Violation("bd_stride", f"{what}: repeat stride {rep_stride:,} elements = "
                                              f"{rep_stride * size_b // WORD_BYTES:,} words exceeds the shim's "
                                              f"{lim.max_stride_words:,}"))
        sizes, strides = sizes[1:], strides[1:]
    # innermost first, as the registers are numbered (d0 = innermost)
    for d, (size, stride) in enumerate(zip(reversed(sizes), reversed(strides))):
        last = d == len(sizes) - 1
        if size == 1 and d > 0:
            continue            # a dimension iterated once: its stride is never applied
        unit = size * size_b / WORD_BYTES if d == 0 else size
        if not last and d < len(lim.max_wrap) and unit > lim.max_wrap[d]:
            shown = f"{size} elements = {unit:g} words" if d == 0 else f"{size}"
            out.append(Violation("bd_size", f"{what}: d{d} size {shown} exceeds the {kind} wrap limit "
                                            f"{lim.max_wrap[d]}"))
        if kind != "shim" and size > VERIFIER["max_size"]:
            out.append(Violation("bd_size", f"{what}: d{d} size {size} > {VERIFIER['max_size']}, which "
                                            f"DMABDOp::verify rejects"))
        if stride == 0 and not (kind == "shim" and size == 1):
            out.append(Violation("bd_stride", f"{what}: d{d} stride 0; only the shim repeat dimension may "
                                              f"have stride 0"))
        words = stride * size_b // WORD_BYTES
        if words > lim.max_stride_words:
            out.append(Violation("bd_stride", f"{what}: d{d} stride {stride:,} elements = {words:,} words exceeds "
                                              f"the {kind}'s {lim.max_stride_words:,}"))
        if kind != "shim" and stride > VERIFIER["max_stride_elems"]:
            out.append(Violation("bd_stride", f"{what}: d{d} stride {stride:,} >= 2^19 elements, which "
                                              f"DMABDOp::verify rejects"))
        if d == 0 and size_b != WORD_BYTES and stride != 1:
            out.append(Violation("granularity", f"{what}: innermost stride {stride} with {size_b}-byte elements; "
                                                f"streams move 32-bit words, so it must be 1"))
        if d == 0 and size * size_b % WORD_BYTES:
            out.append(Violation("granularity", f"{what}: innermost size {size} x {size_b} B = {size * size_b} B "
                                                f"is not a multiple of 4 bytes"))
        if d > 0 and stride * size_b % WORD_BYTES:
            out.append(Violation("granularity", f"{what}: d{d} stride {stride} x {size_b} B is not a multiple of "
                                                f"4 bytes"))
    if pat.offset * size_b % WORD_BYTES:
        out.append(Violation("granularity", f"{what}: offset {pat.offset} x {size_b} B is not 4-byte aligned"))
    if pat.length * size_b % WORD_BYTES:
        out.append(Violation("granularity", f"{what}: {pat.length} elements x {size_b} B is not a multiple of 4 "
                                            f"bytes"))
    low = pat.offset + sum(min(0, st * (sz - 1)) for sz, st in zip(pat.sizes, pat.strides))
    if pat.max_index >= buffer_elems or low < 0:
        out.append(Violation("bounds", f"{what}: touches elements {low}..{pat.max_index:,} of a buffer of "
                                       f"{buffer_elems:,} elements"))
    return out


# ---- shape level --------------------------------------------------------------------------------

def shape_violations(spec, shape) -> list[Violation]:
    from .design import Shape
    M, K, N = Shape(*shape)
    out = []
    for name, value, block, why in (("M", M, spec.m * spec.rows, f"m x rows = {spec.m} x {spec.rows}"),
                                    ("K", K, spec.k, f"k = {spec.k}"),
                                    ("N", N, spec.n * spec.cols, f"n x cols = {spec.n} x {spec.cols}")):
        if value % block:
            out.append(Violation("shape_divisible", f"{name}={value} is not a multiple of {block} ({why})"))
    if not out and (K // spec.k) % spec.depth:
        out.append(Violation("k_unroll", f"K/k = {K // spec.k} is not a multiple of depth={spec.depth}: the core's "
                                         f"k loop is unrolled {spec.depth}x for static ping/pong buffers"))
    if out:
        return out
    from .plan import plans
    return [v for p in plans(spec, (M, K, N)) for v in plan_violations(p, topology_too=False)]


def plan_violations(p, *, topology_too: bool = True) -> list[Violation]:
    from .plan import instruction_words
    out = topology_violations(p.topology) if topology_too else []
    fifos = p.topology.fifos
    for i, t in enumerate(p.transfers):
        what = f"{t.op} #{i} of {t.fifo} ({t.buffer})"
        if t.fifo not in fifos:
            out.append(Violation("unknown_fifo", f"{what}: no fifo {t.fifo} in the design"))
            continue
        f = fifos[t.fifo]
        end = f.producer if t.op == "fill" else f.consumers[0]
        if end != t.shim:
            out.append(Violation("placement", f"{what}: runs on shim {t.shim} but the fifo's shim end is {end}"))
        dtype, elems = p.buffers[t.buffer]
        out += pattern_violations(t.tap, "shim", dtype, elems, what)
        if t.tap.length % f.elems:
            out.append(Violation("whole_objects", f"{what}: moves {t.tap.length:,} elements = "
                                                  f"{t.tap.length / f.elems:g} objects of {f.elems:,}; transfers must "
                                                  f"cover whole fifo objects (hardware hangs otherwise)"))
    out += _shim_bds(p)
    words = instruction_words(p)
    if words > MAX_INSTR_WORDS:
        out.append(Violation("instructions", f"shape {p.shape}{_part(p)}: about {words:,} instruction words > the host's "
                                             f"{MAX_INSTR_WORDS:,}-word buffer"))
    out += _data_volume(p)
    return out


def _part(p) -> str:
    return f" run {p.part + 1}/{p.parts}" if p.parts > 1 else ""


def _shim_bds(p) -> list[Violation]:
    """A group's BDs stay allocated until it is finished, which happens after the next group was
    issued: groups g and g+1 are in flight together."""
    per = defaultdict(Counter)
    for t in p.transfers:
        per[t.shim][t.group] += 1
    out = []
    for shim, groups in sorted(per.items()):
        worst = max(groups[g] + groups.get(g + 1, 0) for g in groups)
        if worst > SHIM.bds:
            out.append(Violation("shim_bds", f"shim {shim} has up to {worst} BDs in flight (two task groups) "
                                             f"but has {SHIM.bds}"))
    return out


def _data_volume(p) -> list[Violation]:
    """Objects moved by the runtime sequence must equal what the cores' loop counts consume/produce,
    or the array hangs or desynchronises across calls (docs/references.md#npu-objectfifo-semantics)."""
    out = []
    topo, depth = p.topology, p.spec.depth
    moved = p.objects()
    for tile, rtp in p.rtp.items():
        if any(not 0 <= v <= I32_MAX for v in rtp) or rtp[1] < 1 or rtp[2] < 1:
            out.append(Violation("rtp", f"core {tile}: run-time parameters {rtp} must be i32 with k_iters, tiles >= 1"))
    need: dict[str, set[int]] = defaultdict(set)
    for w in topo.workers:
        if w.tile not in p.rtp:
            out.append(Violation("rtp", f"core {w.tile} has no run-time parameters"))
            continue
        _, k_iters, tiles = p.rtp[w.tile]
        calls = tiles * k_iters * depth
        for link in topo.links:
            if w.a in link.outputs or w.b in link.outputs:
                need[link.inputs[0]].add(calls)
            if w.c in link.inputs:
                need[link.outputs[0]].add(tiles)
    for name, counts in sorted(need.items()):
        if len(counts) > 1:
            out.append(Violation("data_volume", f"{name}: the cores it feeds expect different object counts "
                                                f"{sorted(counts)}"))
        elif moved.get(name, 0) != next(iter(counts)):
            out.append(Violation("data_volume", f"{name}: the runtime sequence moves {moved.get(name, 0):,} objects "
                                                f"but the cores' loop counts need {next(iter(counts)):,}"))
    return out


def require_valid(p) -> None:
    """Raise :class:`~.design.DesignError` with the first violation of a plan (and a count of the rest)."""
    from .design import DesignError
    from .design import _more
    found = plan_violations(p)
    if found:
        raise DesignError(f"plan {p.shape}: {found[0]}{_more(found)}")
