"""Hardware facts of the Ryzen AI NPUs that the GEMM design, its validator and the performance model read.

Every number cites its entry in ``docs/references.md`` (source, how far it was checked, who uses it).
Limits given in hardware units are in 4-byte words, as the BD registers count them (docs/references.md#npu-bd-limits).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Device", "TileLimits", "DEVICES", "SHIM", "MEMTILE", "CORE", "MAC_DIMS", "KERNEL_EXPANSION",
           "DTYPE_BYTES", "SHIM_MAX_REPEAT", "WORD_BYTES", "STACK_BYTES", "RTP_WORDS", "MAX_INSTR_WORDS", "VERIFIER"]

WORD_BYTES = 4             # address generation and streams move 32-bit words (docs/references.md#npu-word-granularity)
STACK_BYTES = 0xD00        # core stack whole_array reserves, 3,328 B (docs/references.md#npu-whole-array-design)
RTP_WORDS = 3              # per core: ready flag, k iterations, tiles (docs/references.md#npu-reference-design)
MAX_INSTR_WORDS = 4096     # instruction buffer the reference host allocates (docs/references.md#npu-reference-host)


@dataclass(frozen=True)
class Device:
    name: str
    columns: int            # usable columns with a shim DMA (docs/references.md#npu-target-model)
    compute_rows: int       # rows 2..5
    aie: str                # core generation: aie2 (XDNA) or aie2p (XDNA2)


DEVICES = {
    "npu1": Device("npu1", 4, 4, "aie2"),     # Phoenix / Hawk Point, 4x4 cores (docs/references.md#npu-target-model)
    "npu2": Device("npu2", 8, 4, "aie2p"),    # Strix / Krackan, 8x4 cores
}


@dataclass(frozen=True)
class TileLimits:
    """Resources and BD limits of one kind of tile (docs/references.md#npu-target-model,
    docs/references.md#npu-bd-limits)."""
    kind: str
    memory_bytes: int
    locks: int
    bds: int
    s2mm: int                 # DMA channels into the tile
    mm2s: int                 # DMA channels out of the tile
    max_dims: int             # BD dimensions (shim: plus the repeat dimension)
    max_wrap: tuple[int, ...] # max size of d0, d1 (words for d0); the outermost dim has no wrap register
    max_stride_words: int     # step field range
    max_len_words: int        # BD length


SHIM = TileLimits("shim", 0, 16, 16, 2, 2, 3, (1023, 1023), 1 << 20, (1 << 32) - 1)
MEMTILE = TileLimits("memtile", 512 * 1024, 64, 48, 6, 6, 4, (1023, 1023, 1023), 1 << 17, (1 << 17) - 1)
CORE = TileLimits("core", 64 * 1024, 16, 16, 2, 2, 3, (255, 255), 1 << 13, (1 << 14) - 1)
SHIM_MAX_REPEAT = 64       # iteration (repeat) dimension of a shim BD (docs/references.md#npu-shim-repeat-limit)

# DMABDOp::verify, applied to every aie.dma_bd the ObjectFifo lowering emits on memtiles and cores
# (docs/references.md#npu-dmabd-verifier)
VERIFIER = {"max_size": 512, "max_stride_elems": (1 << 19) - 1}

# Micro-kernel MAC shape (r, s, t) per device and input dtype (docs/references.md#npu-whole-array-design).
MAC_DIMS = {
    "npu1": {"bf16": (4, 8, 4), "i8": (4, 8, 8), "i16": (4, 4, 4)},
    "npu2": {"bf16": (4, 8, 8), "i8": (8, 8, 8), "i16": (4, 4, 8)},
}
# Register expansion of the mm.cc kernels: m % (r*er), k % s, n % (t*et) (docs/references.md#npu-mm-kernel).
KERNEL_EXPANSION = {
    "npu1": {"bf16": (4, 4), "i8": (4, 2), "i16": (2, 2)},
    "npu2": {"bf16": (2, 2), "i8": (2, 2), "i16": (2, 2)},
}

DTYPE_BYTES = {"bf16": 2, "i8": 1, "i16": 2, "f32": 4, "i32": 4}
