"""Every GEMM of GPT-2 124M (transformer blocks and LM head, forward and backward) on the NPU emulator:
the shape the array runs, its runs of the array, the measured error against the float64 reference of the
same bf16 inputs, the worst-case bound (zoforge.npu.emulator.error_bound) and their ratio.

Run: .venv/bin/python benchmarks/npu_gpt2_shapes.py [--spec npu1-gpt2] [--bt 256 1024]
Writes benchmarks/results/npu_gpt2_shapes.md (the command is recorded in it).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from zoforge import atomic  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402
from zoforge.npu.design import GemmSpec, device_shape, gpt2_matmuls  # noqa: E402
from zoforge.npu.emulator import NpuEmulator, error_bound, reference  # noqa: E402
from zoforge.npu.plan import plans  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "results" / "npu_gpt2_shapes.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="npu1-gpt2")
    ap.add_argument("--bt", type=int, nargs="+", default=[256])
    args = ap.parse_args()
    spec = parse(args.spec, GemmSpec)
    emu = NpuEmulator(spec)
    rows = ["| B*T | matmul | shape | runs as | runs | max abs error | max bound | max error/bound | seconds |",
            "|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for bt in args.bt:
        seen = {}
        for mm in gpt2_matmuls(bt):
            run, transposed = device_shape(spec, mm.shape)
            if run in seen:
                rows.append(f"| {bt} | {mm.name} | {mm.shape} | {run}{' (C^T)' if transposed else ''} | "
                            f"as above | | | | |")
                continue
            rng = np.random.default_rng(0)
            a = rng.standard_normal((run.M, run.K), dtype=np.float32)
            b = (rng.standard_normal((run.K, run.N)) / np.sqrt(run.K)).astype(np.float32)
            t0 = time.perf_counter()
            c, _ = emu.run(a, b)
            dt = time.perf_counter() - t0
            err = np.abs(c - reference(spec, a, b))
            bound = error_bound(spec, a, b)
            assert (err <= bound).all(), f"{run}: error above the bound"
            text = (f"{len(plans(spec, run))} | {err.max():.3g} | {bound.max():.3g} | {(err / bound).max():.3g} | "
                    f"{dt:.1f}")
            seen[run] = True
            rows.append(f"| {bt} | {mm.name} | {mm.shape} | {run}{' (C^T)' if transposed else ''} | {text} |")
            print(rows[-1], flush=True)
    command = "PYTHONPATH=$PWD .venv/bin/python benchmarks/npu_gpt2_shapes.py " + " ".join(sys.argv[1:])
    atomic.write_text(OUT, f"# GPT-2 124M GEMMs on the NPU emulator ({spec})\n\nCommand: `{command}`\n\n"
                      "Operands: A ~ N(0,1), B ~ N(0,1)/sqrt(K), seed 0. Bound: worst case per element, "
                      "see `error_bound` (g(k-1) per call plus u times the partial sums over calls).\n\n"
                      + "\n".join(rows) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
