"""Resource share of the RNG subsystem inside the engine, PeZO chains against Gaussian chains at equal
throughput (the same numbers per cycle), and the PeZO/Gaussian ratios next to the paper's claim
(-48.6 % LUT, -12.7 % FF for random-number generation; docs/references.md#pezo-rng-savings).

Three levels per chain: the source block alone (``rng_spec``), the engine's RNG unit (source + seed
storage and derivation + restart: everything the engine spends on random numbers), and the whole
engine with that chain. The engine geometry is the preset of the same width: 2 lanes engine-s,
4 lanes engine-m, 8 lanes engine-l (RNG alone only, the engine is too large to sweep quickly).

Usage: python benchmarks/engine_rng_share.py
Writes benchmarks/results/engine_rng_share.md (and .json with every number).
"""
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge import atomic  # noqa: E402
from zoforge.gen.engine_rng import RngUnitSpec  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402
from zoforge.synth import synthesize, yosys_version  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "engine_rng_share.md"
FAMILIES = ["ice40", "ecp5", "xc7"]
PEZO = ["pezo-pool", "pezo-rotate", "pezo-uniform"]
GAUSS = ["clt4", "clt12", "icdf16"]
WIDTHS = {2: ("-x2", "engine-s", True), 4: ("-x4", "engine-m", True), 8: ("", "engine-l", False)}
PAPER = {"LUT": -48.6, "FF": -12.7}
KEYS = ["LUT", "FF", "carry", "DSP", "BRAM"]


def cats(spec, family) -> dict:
    return synthesize(spec, family)["categories"]


def pct(a, b) -> str:
    return f"{100.0 * (a - b) / b:+.1f}%" if b else "-"


def main() -> None:
    t0 = time.perf_counter()
    data = {}
    for lanes, (suffix, preset, with_engine) in WIDTHS.items():
        base = parse(preset)
        for chain in PEZO + GAUSS:
            spec = base.replace(rng=chain + suffix)
            for fam in FAMILIES:
                row = {"source": cats(spec.rng_spec, fam), "unit": cats(RngUnitSpec(spec), fam)}
                if with_engine:
                    row["engine"] = cats(spec, fam)
                data[f"{lanes}|{chain}|{fam}"] = row
                print(lanes, chain, fam, {k: (v["LUT"], v["FF"]) for k, v in row.items()}, flush=True)

    lines = ["# RNG subsystem: share of the engine, and PeZO against Gaussian at equal throughput", "",
             f"Command: `{benchlib.command('engine_rng_share.py')}` "
             f"({time.perf_counter() - t0:.0f} s; synthesis results are cached); Yosys {yosys_version()}.", "",
             "Every chain delivers `lanes` 16-bit numbers per cycle. *source*: the chain alone (`zoforge synth "
             "<preset>`); *RNG unit*: the source plus the seed vector register, the one-lane-per-cycle seed "
             "derivation (a jump-matrix XOR network) and the restart logic (`zoforge/gen/engine_rng.py`), i.e. "
             "all the engine spends on random numbers; *engine*: the whole engine at the preset of that width "
             "with `rng` replaced. Share = RNG unit / engine. PeZO chains: pool (BRAM pool + one LFSR fill, "
             "norm scaling), rotate (generators held 8 transfers, rotating lanes, norm scaling), uniform (no reuse, "
             "sqrt3 constant scaling). Gaussian chains: CLT of 4 or 12 uniforms (a multiplier per lane), "
             "segmented inverse CDF (ROM + multiplier per lane).", ""]
    for lanes, (suffix, preset, with_engine) in WIDTHS.items():
        lines += [f"## {lanes} lanes" + (f" (engine `{preset}`)" if with_engine else " (RNG only)"), "",
                  "| chain | family | source LUT/FF/DSP/BRAM | RNG unit LUT/FF/DSP/BRAM |" +
                  (" engine LUT/FF | RNG share LUT | RNG share FF |" if with_engine else ""),
                  "|---|---|---|---|" + ("---|---|---|" if with_engine else "")]
        for chain in PEZO + GAUSS:
            for fam in FAMILIES:
                r = data[f"{lanes}|{chain}|{fam}"]
                s, u = r["source"], r["unit"]
                line = (f"| `{chain + suffix}` | {fam} | {s['LUT']}/{s['FF']}/{s['DSP']}/{s['BRAM']} | "
                        f"{u['LUT']}/{u['FF']}/{u['DSP']}/{u['BRAM']} |")
                if with_engine:
                    e = r["engine"]
                    line += (f" {e['LUT']}/{e['FF']} | {100 * u['LUT'] / e['LUT']:.1f}% | "
                             f"{100 * u['FF'] / e['FF']:.1f}% |")
                lines.append(line)
        lines.append("")
        lines += [f"PeZO/Gaussian change of the RNG unit ({lanes} lanes), LUT / FF; paper: "
                  f"{PAPER['LUT']:+.1f}% / {PAPER['FF']:+.1f}%:", "",
                  "| PeZO chain | family | " + " | ".join(f"vs `{g + suffix}`" for g in GAUSS) + " |",
                  "|---|---|" + "---|" * len(GAUSS)]
        for p in PEZO:
            for fam in FAMILIES:
                pu = data[f"{lanes}|{p}|{fam}"]["unit"]
                cells = []
                for g in GAUSS:
                    gu = data[f"{lanes}|{g}|{fam}"]["unit"]
                    cells.append(f"{pct(pu['LUT'], gu['LUT'])} / {pct(pu['FF'], gu['FF'])}")
                lines.append(f"| `{p + suffix}` | {fam} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Notes: the PeZO pool and rotate chains here use `scale=norm`, a runtime scale factor applied by "
              "a gated shift-and-add tree per lane (`zoforge/gen/scale.py`); it costs about as many LUTs as the CLT4 "
              "adder trees, which is why their LUT savings are small while their FF savings are large. The "
              "constant-scale uniform chain (`pezo-uniform`, sqrt(3) folded into shifts) shows the LUT saving of "
              "uniform numbers themselves. ECP5 LUT counts of XOR-heavy blocks depend on context (ABC): e.g. "
              "`clt12-x4`'s RNG unit alone maps to more LUTs than the engine that contains it, and `pezo-rotate`'s "
              "source alone to more than its RNG unit; prefer the ice40 and xc7 rows for ratios. "
              "DSP and BRAM are not in the LUT/FF ratios: the Gaussian chains spend a DSP per lane (CLT "
              "scale, ICDF slope) and the ICDF a ROM, the pool a BRAM (SB_RAM40_4K, DP16KD or RAMB18). The paper's "
              "device, tool and Gaussian baseline are not public (docs/references.md#pezo-fpga-setup-unknown), "
              "so the comparison is "
              "against our own baselines.", ""]
    benchlib.write_report(OUT, lines)
    atomic.write_text(OUT.with_suffix(".json"), json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
