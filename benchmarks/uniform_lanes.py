"""Lane decorrelation of the uniform generators: cross-correlation between lanes and lag-1
autocorrelation within a lane, measured on the golden model (== gateware, see tests).

Usage: python benchmarks/uniform_lanes.py [NUMBERS_PER_LANE]
Writes benchmarks/results/uniform_lanes.md.
"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from zoforge.golden.spec import parse  # noqa: E402

SPECS = ["uniform:bits=16,lanes=8,width=32", "uniform:bits=16,lanes=8,width=32,form=fibonacci",
         "uniform:bits=8,lanes=32,width=16", "uniform:bits=16,lanes=8,width=17"]
OUT = pathlib.Path(__file__).with_name("results") / "uniform_lanes.md"


def correlations(codes: np.ndarray) -> tuple[float, float, float]:
    x = codes.astype(np.float64)
    cross = np.corrcoef(x.T)
    np.fill_diagonal(cross, 0.0)
    lag1 = [np.corrcoef(x[:-1, l], x[1:, l])[0, 1] for l in range(x.shape[1])]
    return float(np.abs(cross).max()), float(np.abs(cross).mean()), float(np.abs(lag1).max())


def main(per_lane: int = 1_000_000) -> None:
    rows = []
    for text in SPECS:
        spec = parse(text)
        codes = spec.golden(per_lane)
        mx, mean, lag = correlations(codes)
        rows.append(f"| `{text}` | {per_lane} | {mx:.2e} | {mean:.2e} | {lag:.2e} | {1 / np.sqrt(per_lane):.1e} |")
        print(rows[-1], flush=True)
    cmd = f"python benchmarks/uniform_lanes.py {per_lane}"
    text = "\n".join([
        "# Uniform lanes: decorrelation", "",
        "Lanes are independent LFSRs started (l+1)*jump steps apart on one m-sequence (jump coprime with",
        "the period); a lane's consecutive words share no bits (leap-forward by `width` steps).",
        "Pearson correlations of the signed codes; 1/sqrt(N) is the noise floor of an ideal source.", "",
        f"Command: `{cmd}`", "",
        "| spec | numbers per lane | max abs cross-corr | mean abs cross-corr | max abs lag-1 autocorr | 1/sqrt(N) |",
        "|---|---|---|---|---|---|", *rows, ""])
    OUT.write_text(text)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
