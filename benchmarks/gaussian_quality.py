"""Quality of the Gaussian approximators (CLT n=1,2,4,8,12 and ICDF, 16-bit) against numpy's
standard_normal, from the golden models (bit-exact with the gateware).

Writes a markdown table (default ``benchmarks/results/gaussian_quality.md``) headed by the exact
command that produced it. Run: ``python benchmarks/gaussian_quality.py [--samples N] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import benchlib  # noqa: E402

from zoforge.golden import parse  # noqa: E402
from zoforge.golden.stats import max_abs_reachable, quality  # noqa: E402

SPECS = [f"gaussian:method=clt,n={n},lanes=8,bits=16" for n in (1, 2, 4, 8, 12)] + \
        ["gaussian:method=icdf,lanes=8,bits=16", "gaussian:method=icdf,lanes=8,bits=16,sub=4"]
TAIL_3 = 0.0026997960632601866      # P(|Z| > 3) for N(0, 1)


def row(name: str, z: np.ndarray, reachable: float | None, icdf_err: float | None, seconds: float) -> str:
    q = quality(z)
    tail = float(np.mean(np.abs(z) > 3))
    cells = [name, f"{q['count']:,}", f"{q['mean']:+.5f}", f"{q['variance']:.5f}", f"{q['kurtosis']:.4f}",
             f"{q['max_abs']:.3f}", "-" if reachable is None else f"{reachable:.3f}", f"{q['ks']:.5f}",
             f"{tail / TAIL_3:.3f}", "-" if icdf_err is None else f"{icdf_err:.2f}", f"{seconds:.2f}"]
    return "| " + " | ".join(cells) + " |"


def command(argv) -> str:
    return benchlib.command("gaussian_quality.py", argv)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1 << 22, help="numbers per generator (>= 1e6 recommended)")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "gaussian_quality.md"))
    args = ap.parse_args(argv)

    lines = [
        "# Gaussian approximator quality",
        "",
        f"Command: `{command(argv)}`",
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}. Samples per row: {args.samples:,} "
        "(all lanes of the golden stream, seed 1; the golden models are bit-exact with the gateware).",
        "kurtosis is the plain (Pearson) kurtosis, 3 for a Gaussian; KS is the exact Kolmogorov-Smirnov "
        "distance of the sample to N(0,1); tail>3 is P(|z| > 3) divided by the Gaussian's 0.0027; "
        "reachable is the largest |z| the construction can output; ICDF err is the table's largest "
        "error against the exact inverse CDF, in LSBs of Q3.12 (rounding included); seconds is the time "
        "the numpy model took to produce the row's numbers.",
        "",
        "| generator | samples | mean | variance | kurtosis | max abs z seen | reachable | KS | tail>3 "
        "| ICDF err (LSB) | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for text in SPECS:
        spec = parse(text)
        t0 = time.perf_counter()
        codes = spec.golden(-(-args.samples // spec.lanes))
        seconds = time.perf_counter() - t0
        z = spec.out_format.to_float(codes).ravel()[:args.samples]
        err = spec.table.max_error if spec.method == "icdf" else None
        lines.append(row(f"`{text}`", z, max_abs_reachable(spec), err, seconds))
        print(lines[-1], flush=True)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    ref = rng.standard_normal(args.samples)
    seconds = time.perf_counter() - t0
    lines.append(row("numpy standard_normal (float64)", ref, None, None, seconds))
    lines.append(row("numpy standard_normal rounded to Q3.12", np.round(ref * 4096) / 4096, None, None, seconds))
    print("\n".join(lines[-2:]))
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
