"""``zoforge npu ...``: build, emulate, validate and model GEMM designs.

Hooked into the main CLI by :func:`add_npu_parser`. Bad input (spec, shapes) raises SpecError, which the
main CLI prints as one line with exit status 2; a missing mlir-aie also exits 2 with one line.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from .values import integer, path

SPEC_HELP = "GEMM spec: gemm, gemm:key=value,... or a preset (npu1-gpt2, npu2-gpt2, npu1-i16)"
SHAPES_HELP = "shapes served: MxKxN[,MxKxN...] or gpt2[:BT] (GPT-2 124M's matmuls, default B*T 256)"




def _spec(text: str):
    from ..golden.spec import parse
    from ..npu.design import GemmSpec
    return parse(text, GemmSpec)


def cmd_validate(args) -> int:
    from ..npu.design import parse_shapes
    from ..npu.validate import shape_violations
    spec = _spec(args.spec)
    shapes = parse_shapes(args.shapes)
    bad = 0
    print(f"{spec}: fits the array (L1, L2, locks, BDs, DMA channels, memtile/core patterns)")
    for shape in shapes:
        found = shape_violations(spec, shape)
        bad += bool(found)
        print(f"  {shape}: {'OK' if not found else f'{len(found)} violation(s)'}")
        for v in found:
            print(f"    {v}")
    print(f"{len(shapes) - bad} of {len(shapes)} shapes can run" + ("" if not bad else "; see the violations above"))
    return 1 if bad else 0


def cmd_emulate(args) -> int:
    from ..npu.emulator import NpuEmulator, error_bound, reference
    from ..npu.design import GemmDesign, parse_shape
    from ..npu.plan import instruction_words, plans
    spec = _spec(args.spec)
    shape = parse_shape(args.shape)
    GemmDesign(spec, (shape,))                     # one-line DesignError if the shape cannot run
    rng = np.random.default_rng(args.seed)
    M, K, N = shape
    if spec.is_integer:
        hi = 8 if spec.dtype_in == "i8" else 128
        a = rng.integers(-hi, hi, (M, K)).astype(np.int32)
        b = rng.integers(-hi, hi, (K, N)).astype(np.int32)
    else:          # scaled by 1/sqrt(K) so C stays O(1) (docs/references.md#npu-float-tolerance)
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = (rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32)
    parts = plans(spec, shape)
    start = time.perf_counter()
    c, stats = NpuEmulator(spec).run(a, b)
    elapsed = time.perf_counter() - start
    ref = reference(spec, a, b)
    err = np.abs(c.astype(np.float64) - ref)
    print(f"{spec} on {shape}: emulated in {elapsed:.2f} s")
    tiles = sum(next(iter(q.rtp.values()))[2] for q in parts)
    print(f"  plan     {sum(len(q.transfers) for q in parts)} shim transfers in {sum(q.groups for q in parts)} task "
          f"groups, {len(parts)} run(s) of at most ~{max(instruction_words(q) for q in parts)} instruction words; "
          f"per core {tiles} tiles x {K // spec.k} kernel calls")
    print(f"  moved    {stats.shim_bytes_in:,} B in, {stats.shim_bytes_out:,} B out over the shims; "
          f"{stats.kernel_calls} kernel calls; {sum(stats.objects.values()):,} fifo objects")
    if spec.is_integer:
        ok = bool((err == 0).all())
        print(f"  result   {'equal to' if ok else 'DIFFERENT from'} the exact integer matmul "
              f"({int((err != 0).sum())} elements differ)")
    else:
        bound = error_bound(spec, a, b)
        ok = bool((err <= bound).all())
        print(f"  result   max |C - ref| = {err.max():.3g} (max relative {err.max() / max(np.abs(ref).max(), 1e-30):.3g}); "
              f"within the worst-case bound (max {bound.max():.3g}, measured/bound {(err / np.maximum(bound, 1e-300)).max():.2g}): "
              f"{'yes' if ok else 'NO'} (ref: float64 matmul of the same bf16 inputs)")
    return 0 if ok else 1


def cmd_perf(args) -> int:
    from ..npu.design import parse_shapes
    from ..npu.perf import CONSTANTS, table
    spec = _spec(args.spec)
    shapes = parse_shapes(args.shapes)
    from ..npu.design import GemmDesign
    GemmDesign(spec, shapes)
    print(f"{spec}: predicted per call (model, not a measurement)")
    print(table(spec, shapes))
    print("constants: " + "; ".join(f"{k}={v:g}" for k, (v, _) in CONSTANTS.items()))
    print("sources and the comparison with reported figures: benchmarks/results/npu_perf_model.md")
    return 0


def cmd_build(args) -> int:
    from ..npu.design import GemmDesign, parse_shapes
    from ..npu.iron import IronMissing, build
    design = GemmDesign(_spec(args.spec), parse_shapes(args.shapes))
    try:
        info = build(design, args.output, compile=not args.mlir_only)
    except IronMissing as e:                       # absent toolchain: one line, exit 2 (issue 5)
        print(f"zoforge: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(info['mlir'])} MLIR file(s), design.json" +
          (f", {info['xclbin']} and {len(info['insts'])} instruction stream(s)" if "xclbin" in info else "") +
          f" to {args.output}")
    return 0


def add_npu_parser(subparsers, parser_class) -> None:
    """Add ``npu`` with its subcommands to the main CLI's subparsers."""
    npu = subparsers.add_parser("npu", help="NPU GEMM designs: build (IRON), emulate, validate, perf model")
    sub = npu.add_subparsers(dest="npu_command", metavar="COMMAND", parser_class=parser_class)
    npu.set_defaults(func=None, parser=npu)

    s = sub.add_parser("build", help="lower to IRON/MLIR; with aiecc.py: final.xclbin + insts per shape")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--shapes", default="gpt2", help=SHAPES_HELP + " (default gpt2)")
    s.add_argument("-o", "--output", default="runs/npu", type=path("--output"),
                   help="output directory (default runs/npu)")
    s.add_argument("--mlir-only", action="store_true", help="write the MLIR, do not run aiecc.py")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("emulate", help="run one GEMM on the dataflow emulator, print plan statistics and error")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--shape", required=True, help="MxKxN, e.g. 256x768x2304")
    s.add_argument("--seed", type=integer("seed", 0, 2**63 - 1), default=0, help="seed of the random A and B (default 0)")
    s.set_defaults(func=cmd_emulate)

    s = sub.add_parser("validate", help="check every hardware rule for a design and its shapes")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--shapes", default="gpt2", help=SHAPES_HELP + " (default gpt2)")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("perf", help="predicted time and GFLOP/s per shape (performance model)")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--shapes", default="gpt2", help=SHAPES_HELP + " (default gpt2)")
    s.set_defaults(func=cmd_perf)
