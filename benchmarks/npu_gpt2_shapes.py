"""Every GEMM of GPT-2 124M (transformer blocks and LM head, forward and backward) on the NPU emulator:
the shape the array runs, its runs of the array, the measured error against the float64 reference of the
same bf16 inputs, the worst-case bound (zoforge.npu.emulator.error_bound) and their ratio. With a design
that perturbs in its tiles (``--spec npu1-gpt2-pezo``), each forward (the ZO step's products) also runs
fused -- the cores perturb the weights -- and is compared bit for bit with the host-perturbed unfused run.

Run: .venv/bin/python benchmarks/npu_gpt2_shapes.py [--spec npu1-gpt2] [--bt 256 1024] [-o FILE]
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
from zoforge.npu.design import GemmSpec, device_shape, gpt2_matmuls, perturbed_shape  # noqa: E402
from zoforge.npu.emulator import NpuEmulator, error_bound, reference  # noqa: E402
from zoforge.npu.numerics import from_bf16, to_bf16  # noqa: E402
from zoforge.npu.perturb import PerturbCall, host_perturbed  # noqa: E402
from zoforge.npu.plan import plans  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "results" / "npu_gpt2_shapes.md"


def check_fused(spec, emu, bt, mm, rng) -> str:
    """The forward ``mm`` with the tiles perturbing W against the host-perturbed unfused run."""
    shape = perturbed_shape(spec, mm.shape)
    a = rng.standard_normal((shape.M, shape.K), dtype=np.float32)
    w = from_bf16(to_bf16(rng.standard_normal((shape.N, shape.K), dtype=np.float32) * 0.02))
    call = PerturbCall(seed=7, start=12345, q=300, a=-1e-3, n_valid=min(mm.shape.N, 50257))
    t0 = time.perf_counter()
    got, _ = emu.run(a, w.T, perturb=call)
    dt = time.perf_counter() - t0
    want, _ = emu.run(a, host_perturbed(spec.pezo, call, w).T)
    unperturbed, _ = emu.run(a, w.T)
    equal = np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert equal, f"{mm.name}: the fused perturbation differs from the host-perturbed run"
    moved = int((got != unperturbed).sum())
    return (f"| {bt} | {mm.name} | {mm.shape} | {shape} | yes | {moved:,} of {got.size:,} outputs | {dt:.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="npu1-gpt2")
    ap.add_argument("--bt", type=int, nargs="+", default=[256])
    ap.add_argument("-o", "--output", default=str(OUT))
    args = ap.parse_args()
    spec = parse(args.spec, GemmSpec)
    emu = NpuEmulator(spec)
    rows = ["| B*T | matmul | shape | runs as | runs | max abs error | max bound | max error/bound | seconds |",
            "|---:|---|---|---|---:|---:|---:|---:|---:|"]
    fused = ["| B*T | matmul | shape | runs as | fused == host-perturbed (bits) | differs from unperturbed | "
             "seconds |", "|---:|---|---|---|---|---:|---:|"]
    for bt in args.bt:
        seen = {}
        for mm in gpt2_matmuls(bt):
            run, transposed = device_shape(spec, mm.shape)
            if spec.pezo is not None and mm.name.endswith(".fwd"):
                fused.append(check_fused(spec, emu, bt, mm, np.random.default_rng(1)))
                print(fused[-1], flush=True)
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
    text = (f"# GPT-2 124M GEMMs on the NPU emulator ({spec})\n\nCommand: `{command}`\n\n"
            "Operands: A ~ N(0,1), B ~ N(0,1)/sqrt(K), seed 0. Bound: worst case per element, "
            "see `error_bound` (g(k-1) per call plus u times the partial sums over calls).\n\n"
            + "\n".join(rows) + "\n")
    if len(fused) > 2:
        text += ("\n## The weights perturbed in the tiles (the ZO forwards)\n\nW (N x K) ~ N(0, 0.02) in bf16, "
                 "perturbed with a = -1e-3 from a pool seeded with 7 at stream position 12345 with q = 300; the "
                 "LM head's padded vocabulary columns (n_valid = 50257) unperturbed. The unfused run is the "
                 "host perturbing the bf16 weights in float32 and rounding them (zoforge.npu.perturb."
                 "host_perturbed).\n\n" + "\n".join(fused) + "\n")
    atomic.write_text(args.output, text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
