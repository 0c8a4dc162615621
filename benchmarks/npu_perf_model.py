"""Predicted NPU GEMM time and GFLOP/s for GPT-2 124M's matmuls, next to the reported figures.

Run: .venv/bin/python benchmarks/npu_perf_model.py [SPEC] [--bt 256]
Writes benchmarks/results/npu_perf_model.md (the command is recorded in it).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from zoforge import atomic  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402
from zoforge.npu.design import GemmSpec, gpt2_matmuls, gpt2_shapes  # noqa: E402
from zoforge.npu.perf import CONSTANTS, REPORTED, predict, table  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "results" / "npu_perf_model.md"


def layer_summary(spec, bt: int) -> tuple[float, float, float]:
    """FLOPs and predicted seconds of one transformer block's 12 matmuls (forward + backward)."""
    flops = seconds = array = 0.0
    for mm in gpt2_matmuls(bt, lm_head=False):
        pr = predict(spec, mm.shape)
        flops += mm.shape.flops
        seconds += pr.total_s
        array += pr.array_s
    return flops, array, seconds


def needed_rate(spec, bt: int, target_flops_per_s: float) -> float:
    """Host conversion rate (bytes/s) at which one block's matmuls reach ``target_flops_per_s``."""
    from zoforge.npu.perf import c
    flops = array = fixed = conv = 0.0
    for mm in gpt2_matmuls(bt, lm_head=False):
        pr = predict(spec, mm.shape)
        flops += mm.shape.flops
        array += pr.array_s
        fixed += c("call_overhead_s")
        conv += (pr.host_s - c("call_overhead_s")) * c("host_convert_bytes_per_s")   # bytes
    budget = flops / target_flops_per_s - array - fixed
    return conv / budget if budget > 0 else float("inf")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default="npu1-gpt2")
    ap.add_argument("--bt", type=int, default=256, help="B*T (default 256, llm.c's B=4, T=64)")
    ap.add_argument("-o", "--output", default=str(OUT))
    args = ap.parse_args(argv)
    spec = parse(args.spec, GemmSpec)
    shapes = gpt2_shapes(args.bt)
    flops, array, seconds = layer_summary(spec, args.bt)
    lines = [
        "# NPU GEMM performance model: GPT-2 124M matmuls",
        "",
        f"Command: `.venv/bin/python benchmarks/npu_perf_model.py {args.spec} --bt {args.bt}`",
        "",
        f"Design: `{spec}` (the reference design's tile, docs/references.md#npu-reference-design).",
        f"Shapes: the {len(shapes)} distinct GEMMs of one transformer block at B*T = {args.bt}, forward and "
        "backward (llm.c; the LM head does not fit the shim's repeat limit, "
        "docs/references.md#npu-shim-repeat-limit).",
        "",
        "These are predictions of a model, not measurements: nothing here ran on an NPU.",
        "",
        "## Predicted time per call",
        "",
        table(spec, shapes),
        "",
        f"One transformer block's 12 matmuls (forward + backward, repeated shapes counted): "
        f"{flops / 1e9:.1f} GFLOP in {array * 1e3:.2f} ms on the array = {flops / array / 1e9:.0f} GFLOP/s; "
        f"{seconds * 1e3:.2f} ms with the host's per-call work = {flops / seconds / 1e9:.0f} GFLOP/s.",
        "",
        "## Constants",
        "",
        "| constant | value | source |",
        "|---|---:|---|",
        *[f"| {name} | {value:g} | {source} |" for name, (value, source) in CONSTANTS.items()],
        "",
        "## Reported figures (labels: [P] paper text, [F] read in the authors' fork, [I] public issue, "
        "[2nd] second-hand)",
        "",
        "| what | value | label | where |",
        "|---|---|---|---|",
        *[f"| {w} | {v} | {lab} | {src} |" for w, v, lab, src in REPORTED],
        "",
        "## Where the model and the reports agree and disagree",
        "",
        "- Peak: the model's bf16 array peak is 16 cores x 128 MAC x 2 x 1 GHz = 4.1 TFLOP/s; with the 50% kernel "
        "efficiency it allows 2.0 TFLOP/s from the cores alone, below the 3.14 TOPS bf16 measured on XDNA "
        "([P], docs/references.md#npu-gemm-measured), so the kernel-efficiency constant is, if anything, "
        "pessimistic for large tiles.",
        "- Bound: for every GPT-2 shape at B*T = 256 the model finds the array shim-bound, not core-bound: A is "
        "re-sent once per column block of C (N/(n*cols) = 6..24 times) through one 32-bit channel per shim, and "
        "the fork measured strided shim access at 1.76x the cost of plain movement "
        "(docs/references.md#npu-shim-layout-cost).",
        f"- Host: with the assumed {CONSTANTS['host_convert_bytes_per_s'][0] / 1e9:g} GB/s fp32<->bf16 conversion "
        f"and {CONSTANTS['call_overhead_s'][0] * 1e6:g} us per call, the host's per-call work dominates: "
        f"{flops / seconds / 1e9:.0f} GFLOP/s per block, {flops / seconds / 1e9 / 145:.1f}x the second-hand CPU-only "
        "end-to-end 145 GFLOP/s ([2nd], docs/references.md#npu-paper-e2e-gflops; a lower bound for the CPU's "
        "matmul rate). The paper reports >2.8x on the "
        f"offloaded matmuls ([P]), about {2.8 * 145:.0f} GFLOP/s or more. The model reaches that only if the host "
        f"converts at >= {needed_rate(spec, args.bt, 2.8 * 145e9) / 1e9:.0f} GB/s (several cores), so this is where "
        "model and report disagree: the host constants are assumptions, and they, not the array, decide the "
        "figure -- which is why the paper stresses explicit data movement and minimal reconfiguration.",
        "- Not modelled: first-call reconfiguration (reported 3.5x faster with minimal reconfiguration, [2nd], "
        "docs/references.md#npu-paper-setup), "
        "instruction-buffer swaps between shapes, DDR contention with the CPU, and the battery case.",
        "",
    ]
    text = "\n".join(lines)
    atomic.write_text(args.output, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
