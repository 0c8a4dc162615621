"""The dataflow plan of a GEMM design: what the validator checks, the emulator runs and IRON lowers.

:func:`topology` is the shape-independent part (the xclbin): object fifos with depths, element types,
producer/consumer tiles and memtile layout patterns, the memtile links and the workers. :func:`plan`
adds one shape's runtime sequence (shim transfers with their access patterns, in task groups) and the
per-core loop counts written as run-time parameters. The scheme is mlir-aie's whole-array one
(docs/references.md#npu-whole-array-design) with the reference design's run-time parameters
(docs/references.md#npu-reference-design):

* A: row block ``rb`` (rows*m x K) goes, k columns at a time, to ``a_memtiles`` memtiles; each splits its
  object into per-row m x k tiles, re-blocks them into r x s blocks and broadcasts them along the row.
  The shim repeats the row block once per column block of C (stride-0 repeat dimension).
* B: each column's memtile receives k x n tiles for its n-wide column blocks, re-blocks them (s x t,
  or t x s when B is column-major) and broadcasts them down the column; re-sent once per row block.
* C: the rows cores of a column produce m x n tiles (r x t blocks); the memtile joins them and
  un-blocks the rows*m x n block to row-major on the way to the shim.
* Every core runs ``tiles`` output tiles of ``k_iters * depth`` kernel calls (C += A @ B after a zero);
  the inner loop is unrolled ``depth`` times so buffer references stay static, hence K/k % depth == 0.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from .design import GemmSpec, Shape
from .hardware import DTYPE_BYTES, MAX_INSTR_WORDS, RTP_WORDS, SHIM, SHIM_MAX_REPEAT, WORD_BYTES
from .pattern import Pattern

__all__ = ["Tile", "Fifo", "Link", "Worker", "Topology", "Transfer", "Plan", "topology", "plan", "plans",
           "ROWS_PER_GROUP", "instruction_words"]

ROWS_PER_GROUP = 2     # row blocks per task group; two in flight, ping/pong (docs/references.md#npu-reference-design)


@dataclass(frozen=True, order=True)
class Tile:
    col: int
    row: int

    @property
    def kind(self) -> str:
        return "shim" if self.row == 0 else "memtile" if self.row == 1 else "core"

    def __str__(self) -> str:
        return f"({self.col},{self.row})"


@dataclass(frozen=True)
class Fifo:
    """An object fifo: ``depth`` objects of ``elems`` elements at the producer and at every consumer."""
    name: str
    dtype: str
    elems: int
    shape: tuple[int, ...]              # logical object shape (the IRON obj_type)
    depth: int
    producer: Tile
    consumers: tuple[Tile, ...]
    dims_to_stream: Pattern | None = None   # read pattern of the producer's DMA, relative to the object

    @property
    def bytes(self) -> int:
        return self.elems * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Link:
    """A memtile link: split (distribute) / forward (one output) or join, with per-branch offsets."""
    kind: str                           # split | forward | join
    tile: Tile
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    offsets: tuple[int, ...]            # into the L2 object, one per branch


@dataclass(frozen=True)
class Worker:
    tile: Tile
    a: str
    b: str
    c: str


@dataclass(frozen=True)
class Topology:
    spec: GemmSpec
    fifos: dict[str, Fifo]
    links: tuple[Link, ...]
    workers: tuple[Worker, ...]

    def endpoints(self, tile: Tile) -> list[tuple[Fifo, str]]:
        """(fifo, 'prod'|'cons') for every fifo endpoint on ``tile``."""
        out = [(f, "prod") for f in self.fifos.values() if f.producer == tile]
        return out + [(f, "cons") for f in self.fifos.values() if tile in f.consumers]

    @property
    def tiles(self) -> list[Tile]:
        found = {f.producer for f in self.fifos.values()} | {t for f in self.fifos.values() for t in f.consumers}
        return sorted(found)

    def l2_buffers(self, tile: Tile) -> list[tuple[str, int]]:
        """(name, bytes) of the buffers a memtile allocates: one depth-deep ring per link, sized by the
        L2-side object (split/forward: the input; join: the output) (docs/references.md#npu-objectfifo-semantics)."""
        out = []
        for link in self.links:
            if link.tile == tile:
                l2 = self.fifos[link.inputs[0] if link.kind != "join" else link.outputs[0]]
                out.append((l2.name, l2.depth * l2.bytes))
        return out


@dataclass(frozen=True)
class Transfer:
    """One runtime-sequence fill (host -> fifo) or drain (fifo -> host) on a shim tile."""
    op: str                 # fill | drain
    fifo: str
    buffer: str             # A | B | C
    tap: Pattern            # over the host buffer, in its elements
    shim: Tile
    group: int
    wait: bool = False


@dataclass(frozen=True)
class Plan:
    topology: Topology
    shape: Shape
    transfers: tuple[Transfer, ...]
    rtp: dict[Tile, tuple[int, ...]]   # (ready flag, k_iters, tiles) (docs/references.md#npu-reference-design)
    buffers: dict[str, tuple[str, int]] = field(default_factory=dict)   # A/B/C -> (dtype, elements)
    part: int = 0                      # this run's index when a shape needs several runs (see plans())
    parts: int = 1

    @property
    def spec(self) -> GemmSpec:
        return self.topology.spec

    @property
    def groups(self) -> int:
        return 1 + max(t.group for t in self.transfers)

    def kernel_calls(self) -> int:
        return sum(r[1] * r[2] * self.spec.depth for r in self.rtp.values())

    def objects(self) -> Counter:
        """Objects each shim-side fifo moves in one run."""
        count = Counter()
        for t in self.transfers:
            count[t.fifo] += t.tap.length // self.topology.fifos[t.fifo].elems
        return count

    def shim_bytes(self) -> dict[str, int]:
        out = Counter()
        for t in self.transfers:
            out[t.buffer] += t.tap.length * DTYPE_BYTES[self.buffers[t.buffer][0]]
        return dict(out)


def _shim(col: int) -> Tile:
    return Tile(col, 0)


def _mem(col: int) -> Tile:
    return Tile(col, 1)


def a_memtile_column(spec: GemmSpec, i: int) -> int:
    """Column of the i-th A memtile: spread evenly when fewer A memtiles than columns (npu2, 8 cols)."""
    return i * (spec.cols // spec.a_memtiles)


def topology(spec: GemmSpec) -> Topology:
    m, k, n, d, dc = spec.m, spec.k, spec.n, spec.depth, spec.c_fifo_depth
    r, s, t = spec.mac_dims
    fifos: dict[str, Fifo] = {}
    links: list[Link] = []

    def add(f: Fifo) -> None:
        fifos[f.name] = f

    rows_per_a = spec.rows // spec.a_memtiles
    a_block = Pattern((m // r, k // s, r, s), (r * k, s, k, 1))               # m x k -> r x s blocks
    for i in range(spec.a_memtiles):
        col = a_memtile_column(spec, i)
        add(Fifo(f"A_L3L2_{i}", spec.dtype_in, rows_per_a * m * k, (rows_per_a * m * k,), d, _shim(col), (_mem(col),)))
        outs = []
        for j in range(rows_per_a):
            row = i * rows_per_a + j
            cores = tuple(Tile(c, row + 2) for c in range(spec.cols))
            add(Fifo(f"A_L2L1_{row}", spec.dtype_in, m * k, (m, k), d, _mem(col), cores, a_block))
            outs.append(f"A_L2L1_{row}")
        links.append(Link("split", _mem(col), (f"A_L3L2_{i}",), tuple(outs), tuple(m * k * j for j in range(rows_per_a))))

    if spec.b_layout == "col":        # the object holds n x k (B^T rows): t x s blocks
        b_block = Pattern((n // t, k // s, t, s), (t * k, s, k, 1))
    else:                             # k x n: s x t blocks
        b_block = Pattern((k // s, n // t, s, t), (s * n, t, n, 1))
    c_unblock = Pattern((spec.rows * m // r, r, n // t, t), (r * n, t, r * t, 1))   # r x t blocks -> row-major
    for col in range(spec.cols):
        cores = tuple(Tile(col, row + 2) for row in range(spec.rows))
        add(Fifo(f"B_L3L2_{col}", spec.dtype_in, k * n, (k * n,), d, _shim(col), (_mem(col),)))
        add(Fifo(f"B_L2L1_{col}", spec.dtype_in, k * n, (k, n), d, _mem(col), cores, b_block))
        links.append(Link("forward", _mem(col), (f"B_L3L2_{col}",), (f"B_L2L1_{col}",), (0,)))
        ins = []
        for row in range(spec.rows):
            add(Fifo(f"C_L1L2_{col}_{row}", spec.dtype_out, m * n, (m, n), dc, Tile(col, row + 2), (_mem(col),)))
            ins.append(f"C_L1L2_{col}_{row}")
        add(Fifo(f"C_L2L3_{col}", spec.dtype_out, spec.rows * m * n, (spec.rows * m * n,), dc, _mem(col),
                 (_shim(col),), c_unblock))
        links.append(Link("join", _mem(col), tuple(ins), (f"C_L2L3_{col}",), tuple(m * n * j for j in range(spec.rows))))

    workers = tuple(Worker(Tile(col, row + 2), f"A_L2L1_{row}", f"B_L2L1_{col}", f"C_L1L2_{col}_{row}")
                    for row in range(spec.rows) for col in range(spec.cols))
    return Topology(spec, fifos, tuple(links), workers)


def plan(spec: GemmSpec, shape) -> Plan:
    """The one runtime sequence of a shape that fits one instruction stream (most shapes); a shape that
    needs several runs raises ValueError: use :func:`plans`."""
    parts = plans(spec, shape)
    if len(parts) > 1:
        raise ValueError(f"plan {Shape(*shape)}: needs {len(parts)} runs of the array; use plans()")
    return parts[0]


def plans(spec: GemmSpec, shape) -> tuple[Plan, ...]:
    """The runtime sequences and loop counts for one shape: usually one run; more when one instruction
    stream would not hold them all. Each run covers consecutive output tiles and writes its own
    run-time parameters, so the cores (which persist across runs) pick up where the last run stopped.
    Divisibility is the validator's business (:func:`.validate.shape_violations`); this assumes it holds."""
    shape = Shape(*shape)
    topo = topology(spec)
    k_steps = shape.K // spec.k
    groups = [_group_transfers(spec, shape, rbs, cbs) for rbs, cbs in _tile_groups(spec, shape)]
    sizes = [len(rbs) * len(cbs) for rbs, cbs in _tile_groups(spec, shape)]
    buffers = {"A": (spec.dtype_in, shape.M * shape.K), "B": (spec.dtype_in, shape.K * shape.N),
               "C": (spec.dtype_out, shape.M * shape.N)}
    fixed = INSTR_HEADER + INSTR_PER_WRITE * len(topo.workers) * (RTP_WORDS + 1)
    runs, current, words = [], [], fixed
    for transfers, tiles in zip(groups, sizes):
        cost = _group_words(transfers)
        if current and words + cost > MAX_INSTR_WORDS:
            runs.append(current)
            current, words = [], fixed
        current.append((transfers, tiles))
        words += cost
    runs.append(current)
    out = []
    for part, run in enumerate(runs):
        transfers = tuple(dataclasses.replace(t, group=g) for g, (ts, _) in enumerate(run) for t in ts)
        tiles = sum(n for _, n in run)
        rtp = {w.tile: (1, k_steps // spec.depth, tiles) for w in topo.workers}
        out.append(Plan(topo, shape, transfers, rtp, buffers, part, len(runs)))
    return tuple(out)


def _tile_groups(spec: GemmSpec, shape: Shape) -> list[tuple[range, range]]:
    """Task groups as (row blocks, column blocks) of C, in the cores' tile order (row-major).

    Two row blocks with all their column blocks per group when every transfer fits a shim BD; otherwise
    one row block per group and its column blocks in the fewest chunks whose BDs fit: two groups are in
    flight, so one group may use half of a shim's BDs. A shim channel's transfers per group are its
    column's C drain and its A and B fills, which repeat over at most SHIM_MAX_REPEAT column blocks each
    (B: one per column block when the repeat stride over column blocks exceeds the BD's range)."""
    M, K, N = shape
    row_blocks, col_blocks = M // (spec.m * spec.rows), N // (spec.n * spec.cols)
    b_split = _b_repeat_stride(spec, K, N) * spec.bytes_in // WORD_BYTES > SHIM.max_stride_words
    drain_stride_ok = spec.rows * spec.m * N * spec.bytes_out // WORD_BYTES <= SHIM.max_stride_words

    def bds(rows: int, cols: int) -> int:
        repeats = -(-cols // SHIM_MAX_REPEAT)
        return 1 + rows * (repeats + (cols if b_split else repeats))

    half = SHIM.bds // 2
    if drain_stride_ok and bds(min(ROWS_PER_GROUP, row_blocks), col_blocks) <= half:
        return [(range(rb, min(rb + ROWS_PER_GROUP, row_blocks)), range(col_blocks))
                for rb in range(0, row_blocks, ROWS_PER_GROUP)]
    chunks = next(c for c in range(1, col_blocks + 1) if bds(1, -(-col_blocks // c)) <= half)
    size = -(-col_blocks // chunks)
    return [(range(rb, rb + 1), range(c0, min(c0 + size, col_blocks)))
            for rb in range(row_blocks) for c0 in range(0, col_blocks, size)]


def _b_repeat_stride(spec: GemmSpec, K: int, N: int) -> int:
    """Elements between the B data of consecutive column blocks of one column."""
    return spec.n * spec.cols * (K if spec.b_layout == "col" else 1)


def _group_transfers(spec: GemmSpec, shape: Shape, rbs: range, cbs: range) -> list[Transfer]:
    M, K, N = shape
    m, k, n = spec.m, spec.k, spec.n
    k_steps = K // k
    rows_per_a = spec.rows // spec.a_memtiles
    b_split = _b_repeat_stride(spec, K, N) * spec.bytes_in // WORD_BYTES > SHIM.max_stride_words
    out = []
    for col in range(spec.cols):
        tap = Pattern((len(rbs), len(cbs), spec.rows * m, n), (spec.rows * m * N, n * spec.cols, N, 1),
                      rbs[0] * spec.rows * m * N + (cbs[0] * spec.cols + col) * n)
        out.append(Transfer("drain", f"C_L2L3_{col}", "C", tap, _shim(col), 0, wait=True))
    for rb in rbs:
        for i in range(spec.a_memtiles):
            row0 = rb * spec.rows * m + i * rows_per_a * m
            for c0 in range(cbs.start, cbs.stop, SHIM_MAX_REPEAT):     # the shim repeats A per column block
                count = min(SHIM_MAX_REPEAT, cbs.stop - c0)
                tap = Pattern((count, k_steps, rows_per_a * m, k), (0, k, K, 1), row0 * K)
                out.append(Transfer("fill", f"A_L3L2_{i}", "A", tap, _shim(a_memtile_column(spec, i)), 0))
        for col in range(spec.cols):
            step = 1 if b_split else SHIM_MAX_REPEAT
            for c0 in range(cbs.start, cbs.stop, step):
                count = min(step, cbs.stop - c0)
                first = (c0 * spec.cols + col) * n
                if spec.b_layout == "col":
                    tap = Pattern((count, k_steps, n, k), (n * spec.cols * K, k, K, 1), first * K)
                else:
                    tap = Pattern((count, k_steps, k, n), (n * spec.cols, k * N, N, 1), first)
                out.append(Transfer("fill", f"B_L3L2_{col}", "B", tap, _shim(col), 0))
    return out


# Instruction-stream size estimate [D]: a shim BD write (8 register words) with its header, address
# patch and queue push ~ 12 words; an await ~ 4; an RTP/barrier write ~ 3 per word; a 4-word header.
INSTR_PER_TRANSFER, INSTR_PER_WAIT, INSTR_PER_WRITE, INSTR_HEADER = 12, 4, 3, 4


def _group_words(transfers) -> int:
    return INSTR_PER_TRANSFER * len(transfers) + INSTR_PER_WAIT * sum(1 for t in transfers if t.wait)


def instruction_words(p: Plan) -> int:
    writes = len(p.rtp) * (RTP_WORDS + 1)            # RTP words plus the barrier
    return INSTR_HEADER + _group_words(p.transfers) + INSTR_PER_WRITE * writes
