"""Performance model of a GEMM design: predicted time and GFLOP/s per shape from documented constants.

The array runs three pipelines at once; the slowest sets the time:
* cores: every core makes ``tiles * K/k`` kernel calls; a call takes the longer of its MACs
  (m*k*n / (peak MACs/cycle * kernel efficiency)) and streaming its A and B objects into L1
  (one 32-bit stream per DMA channel), which double buffering overlaps;
* shim DMAs: each shim channel moves its share of A (re-sent once per column block), B (re-sent once
  per row block) or C at one 32-bit word per cycle, slowed by the measured cost of strided
  (layout-transforming) shim access;
* host, per call: a fixed dispatch overhead plus fp32 -> bf16 conversion / layout of A and B and the
  copy of C out (the reference host does both on every call, docs/references.md#npu-reference-host);
  with a resident weight (``resident=``), only the activation is converted per call and the weight once
  per update (:func:`convert_s`), as the host backends do (zoforge/host/npu_buffers.py).
* with a single-buffered C (``c_depth=1``) a core also waits for each finished tile to stream out.
* with the PeZO perturbation in the tile (``perturb=``, a call with ``perturbed=True``) a core perturbs
  each B object before its matmul (:func:`~zoforge.npu.perturb.cycles_per_object`, on the same core, so
  it adds to the kernel's time) and fills its pool once per run (one code per cycle, assumed).

Every constant names its entry in docs/references.md (the public measurement, with its exact place)
and says "assumed" where no public figure exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from .design import GemmSpec, Shape
from .hardware import DTYPE_BYTES, WORD_BYTES
from .plan import plans as make_plans

__all__ = ["CONSTANTS", "Prediction", "predict", "convert_s", "REPORTED"]

_REF = "docs/references.md#"   # every source names its entry there

# name -> (value, source)
CONSTANTS = {
    "clock_hz": (1.0e9, f"assumed, {_REF}npu-clock: the fork's notes compute peaks at 1 GHz; no datasheet clock"),
    "macs_npu1_bf16": (128, f"{_REF}npu-mac-rates: bf16 mmul<4,8,4> = 128 MAC/cycle/core, one per cycle assumed"),
    "macs_npu1_i16": (64, f"{_REF}npu-shim-layout-cost: 64 MAC/cycle single-core i16 peak (128 GOP/s at 1 GHz)"),
    "macs_npu1_i8": (256, f"{_REF}npu-mac-rates: i8 mmul<4,8,8> = 256 MAC/cycle, one per cycle assumed"),
    "macs_npu2_bf16": (256, f"assumed, {_REF}npu-mac-rates: aie2p bf16 mmul<4,8,8>, no measured figure"),
    "macs_npu2_i16": (128, f"assumed, {_REF}npu-mac-rates: aie2p i16 mmul<4,4,8>"),
    "macs_npu2_i8": (512, f"assumed, {_REF}npu-mac-rates: aie2p i8 mmul<8,8,8>"),
    "kernel_eff_bf16": (0.5, f"{_REF}npu-kernel-efficiency: ~50% of bf16 peak at 64^3 tiles (mlir-aie#2735)"),
    "kernel_eff_int": (0.75, f"{_REF}npu-kernel-efficiency: ~75% of i16 peak at 64^3 tiles; i8 assumed alike"),
    "stream_bytes_per_cycle": (4, f"{_REF}npu-word-granularity: one 32-bit word per cycle per channel"),
    "shim_strided_factor": (1.76, f"{_REF}npu-shim-layout-cost: shim layout transforms cost 50.7 ms on top of "
                                  "67 ms plain movement"),
    "call_overhead_s": (100e-6, f"assumed, {_REF}npu-host-costs: XRT run + BO syncs per call, no public figure"),
    "host_convert_bytes_per_s": (4.0e9, f"assumed, {_REF}npu-host-costs: one CPU core converting fp32 <-> bf16 "
                                        "at 4 GB/s"),
}


def c(name: str) -> float:
    return CONSTANTS[name][0]


@dataclass(frozen=True)
class Prediction:
    shape: Shape
    core_s: float
    shim_s: float
    host_s: float
    bound: str                 # which pipeline limits the array: cores | shim

    @property
    def array_s(self) -> float:
        return max(self.core_s, self.shim_s)

    @property
    def total_s(self) -> float:
        return self.array_s + self.host_s

    @property
    def gflops_array(self) -> float:
        return self.shape.flops / self.array_s / 1e9

    @property
    def gflops(self) -> float:
        return self.shape.flops / self.total_s / 1e9


def predict(spec: GemmSpec, shape, *, resident: str | None = None, perturbed: bool = False) -> Prediction:
    """Predicted time of one call of ``shape``. ``resident`` names the operand (A or B) that stays on the
    device in bf16 between calls (a weight, converted once per update: :func:`convert_s`); None is the
    reference host, which converts both operands on every call. ``perturbed``: the tiles perturb B first
    (a design with ``perturb=``)."""
    from .perturb import cycles_per_object
    shape = Shape(*shape)
    M, K, N = shape
    parts = make_plans(spec, shape)         # a shape split into runs: their transfers and tiles add up
    clock, bpc = c("clock_hz"), c("stream_bytes_per_cycle")
    macs = c(f"macs_{spec.device}_{spec.dtype_in}")
    eff = c("kernel_eff_bf16") if spec.dtype_in == "bf16" else c("kernel_eff_int")
    tiles = sum(max(r[2] for r in p.rtp.values()) for p in parts)
    calls = sum(max(r[1] * r[2] for r in p.rtp.values()) for p in parts) * spec.depth
    pezo = spec.pezo if perturbed else None
    if perturbed and pezo is None:
        raise ValueError(f"perturbed call on {spec}, which has perturb=none")
    compute = spec.m * spec.k * spec.n / (macs * eff) + cycles_per_object(spec, pezo)
    stream_a = spec.m * spec.k * spec.bytes_in / bpc
    stream_b = spec.k * spec.n * spec.bytes_in / bpc
    # a single-buffered C: the core waits while its finished tile streams out before starting the next
    drain = spec.m * spec.n * spec.bytes_out / bpc if spec.c_fifo_depth == 1 else 0.0
    fill = len(parts) * pezo.pool if pezo is not None else 0      # the pool, refilled at each run's start
    core_s = (calls * max(compute, stream_a, stream_b) + tiles * drain + fill) / clock
    # shim: bytes per (shim tile, fifo) channel
    per_channel: dict[tuple, int] = {}
    for p in parts:
        for t in p.transfers:
            key = (t.shim, t.fifo)
            per_channel[key] = per_channel.get(key, 0) + t.tap.length * DTYPE_BYTES[p.buffers[t.buffer][0]]
    worst = max(per_channel.values())
    shim_s = worst * c("shim_strided_factor") / (bpc * clock)
    converted = (M * K if resident != "A" else 0) + (K * N if resident != "B" else 0)
    host_bytes = converted * (4 + spec.bytes_in) + M * N * spec.bytes_out * 2
    host_s = c("call_overhead_s") + host_bytes / c("host_convert_bytes_per_s")
    return Prediction(shape, core_s, shim_s, host_s, "cores" if core_s >= shim_s else "shim")


def convert_s(spec: GemmSpec, elems: int) -> float:
    """Host time to convert ``elems`` fp32 weights into a resident bf16 buffer (read fp32, write bf16)."""
    return elems * (4 + spec.bytes_in) / c("host_convert_bytes_per_s")


# Figures reported for the reference design and related measurements: (what, value, label, source).
REPORTED = [
    ("offloaded GPT-2 matmuls vs the CPU", ">2.8x", "[P] paper abstract", f"{_REF}npu-paper-results"),
    ("end-to-end training throughput, mains", "1.7x", "[P] paper abstract", f"{_REF}npu-paper-results"),
    ("end-to-end GFLOP/s CPU-only -> with NPU (mains)", "145 -> 255", "[2nd] third-party experiment log",
     f"{_REF}npu-paper-e2e-gflops"),
    ("whole-array i16 GEMM 2048^3, 16 cores (fork)", "1480 GOP/s (72% of 2048)", "[F] fork notes",
     f"{_REF}npu-shim-layout-cost"),
    ("single-core i16 GEMM 2048^3 (fork)", "112 GOP/s (88% of 128)", "[F] fork notes", f"{_REF}npu-shim-layout-cost"),
    ("measured bf16 GEMM on XDNA", "up to 3.14 TOPS", "[P] 'Striking the Balance' abstract",
     f"{_REF}npu-gemm-measured"),
    ("bf16 kernel efficiency at 64^3 tiles", "~50% of peak", "[I] mlir-aie#2735", f"{_REF}npu-kernel-efficiency"),
]


def table(spec: GemmSpec, shapes) -> str:
    """Markdown table of predictions, one row per shape, plus the FLOP-weighted total."""
    rows = ["| shape MxKxN | GFLOP | cores us | shim us | host us | bound | array GFLOP/s | with host GFLOP/s |",
            "|---|---:|---:|---:|---:|---|---:|---:|"]
    flops = seconds = array = 0.0
    for shape in shapes:
        pr = predict(spec, shape)
        flops += pr.shape.flops
        seconds += pr.total_s
        array += pr.array_s
        rows.append(f"| {pr.shape} | {pr.shape.flops / 1e9:.2f} | {pr.core_s * 1e6:.0f} | {pr.shim_s * 1e6:.0f} | "
                    f"{pr.host_s * 1e6:.0f} | {pr.bound} | {pr.gflops_array:.0f} | {pr.gflops:.0f} |")
    rows.append(f"| all | {flops / 1e9:.2f} | | | | | {flops / array / 1e9:.0f} | {flops / seconds / 1e9:.0f} |")
    return "\n".join(rows)
