"""Throughput of the host's PeZO and sign perturbation generators (golden models, bit-exact with the
gateware) against numpy's Generator.standard_normal (float64, float32) and Generator.random, in one run.

Every method makes n numbers per call, as a new array (as the host uses it) and into a preallocated
array (``out=``, no page faults). Calls of all methods are interleaved, repeated, and the median is
reported. PeZO calls ask for a slice deep into the stream (step 7 of a GPT-2-sized vector), so the
jump-ahead is paid too. Writes a markdown table (default
``benchmarks/results/golden_throughput.md``) headed by the exact command.

Run: ``python benchmarks/golden_throughput.py [--sizes 1e7,1e8] [--repeats 5] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import benchlib  # noqa: E402

from zoforge.golden import parse, sign  # noqa: E402
from zoforge.golden.pezo import perturbation, perturbation_values  # noqa: E402

GPT2 = 124_439_808                      # GPT-2 124M parameter count
START = 7 * GPT2                        # the perturbation of step 7
SPECS = {"pool": "pezo-pool", "rotate": "pezo-rotate"}
SIGN_SPECS = {"sign": "sign", "sign sparse": "sign-sparse"}
BASE = "numpy standard_normal f64"


def methods(n: int, rng: np.random.Generator):
    """name -> (allocating call, call into a preallocated output)."""
    out = {"f64": np.empty(n), "f32": np.empty(n, np.float32), "i16": np.empty(n, np.int16)}
    table = {
        BASE: (lambda: rng.standard_normal(n), lambda: rng.standard_normal(out=out["f64"])),
        "numpy standard_normal f32": (lambda: rng.standard_normal(n, dtype=np.float32),
                                      lambda: rng.standard_normal(out=out["f32"], dtype=np.float32)),
        "numpy random f64": (lambda: rng.random(n), lambda: rng.random(out=out["f64"])),
    }
    for name, text in SPECS.items():
        spec = parse(text)
        table[f"pezo {name} codes int16"] = (lambda s=spec: perturbation(s, START, n),
                                             lambda s=spec: perturbation(s, START, n, out=out["i16"]))
        table[f"pezo {name} values f32"] = (lambda s=spec: perturbation_values(s, START, n),
                                            lambda s=spec: perturbation_values(s, START, n, out=out["f32"]))
    for name, text in SIGN_SPECS.items():
        spec = parse(text)
        table[f"{name} codes int16"] = (lambda s=spec: sign.perturbation(s, START, n),
                                        lambda s=spec: sign.perturbation(s, START, n, out=out["i16"]))
        table[f"{name} values f32"] = (lambda s=spec: sign.perturbation_values(s, START, n),
                                       lambda s=spec: sign.perturbation_values(s, START, n, out=out["f32"]))
    return table


def measure(n: int, repeats: int, seed: int = 0) -> dict[tuple[str, str], float]:
    """Median seconds per call for every (method, mode); the calls are interleaved."""
    table = methods(n, np.random.default_rng(seed))
    times: dict[tuple[str, str], list[float]] = {}
    for name, (alloc, into) in table.items():           # warm up: caches, tables, page tables
        alloc()
        into()
    for _ in range(repeats):
        for name, (alloc, into) in table.items():
            for mode, call in (("new array", alloc), ("out=", into)):
                gc.collect()
                t = time.perf_counter()
                result = call()
                times.setdefault((name, mode), []).append(time.perf_counter() - t)
                del result
    return {key: statistics.median(v) for key, v in times.items()}


def command(argv) -> str:
    return benchlib.command("golden_throughput.py", argv)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e7,1e8", help="numbers per call, comma separated")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "golden_throughput.md"))
    args = ap.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    lines = [
        "# PeZO and sign golden perturbation throughput vs numpy",
        "",
        f"Command: `{command(argv)}`",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
        f"numpy {np.__version__}; {time.strftime('%Y-%m-%d %H:%M:%S')}. Shared machine (2 cores, other jobs "
        f"running): single-thread medians of {args.repeats} interleaved calls.",
        "",
        f"PeZO specs: pool = `{parse(SPECS['pool'])}`, rotate = `{parse(SPECS['rotate'])}`. "
        f"Sign specs: sign = `{parse(SIGN_SPECS['sign'])}`, sign sparse = `{parse(SIGN_SPECS['sign sparse'])}` "
        f"(codes sQ2.13). Slices start at element {START:,} (step 7 of GPT-2 124M). Codes are sQ1.14 int16; values are "
        "the same numbers as exact float32. Ratio = numbers/s divided by numpy standard_normal float64 "
        "numbers/s at the same size and mode.",
        "",
        "| numbers | mode | method | median s | numbers/s | ratio vs standard_normal f64 |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for n in sizes:
        medians = measure(n, args.repeats)
        for mode in ("new array", "out="):
            base = medians[(BASE, mode)]
            for (name, m), sec in medians.items():
                if m == mode:
                    lines.append(f"| {n:.0e} | {mode} | {name} | {sec:.4f} | {n / sec / 1e6:,.0f} M | "
                                 f"{base / sec:.1f}x |")
        print(f"done n={n:.0e}", file=sys.stderr)
    benchlib.write_report(args.out, lines)


if __name__ == "__main__":
    main()
