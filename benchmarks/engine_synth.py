"""Synthesis of the engine presets for ice40, ecp5 and xc7 (Yosys via zoforge.synth), a breakdown by
block, the DSP check (one DSP per multiplier) and Fmax from nextpnr for ice40 (UP5K) and ecp5 (85F).

Usage: python benchmarks/engine_synth.py [PRESET ...]
Writes benchmarks/results/engine_synth.md.
"""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge.gen.engine_rng import RngUnitSpec  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402
from zoforge.synth import place_and_route, synthesize, yosys_version  # noqa: E402
from zoforge.tools import ToolFailed  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "engine_synth.md"
PRESETS = ["engine-s", "engine-m", "engine-l"]
FAMILIES = ["ice40", "ecp5", "xc7"]
KEYS = ["LUT", "FF", "carry", "DSP", "BRAM", "LUTRAM", "mux"]
# Device capacities for the "fits" column: iCE40UP5K and LFE5U-85F.
CAPACITY = {"ice40": {"LUT": 5280, "DSP": 8, "BRAM": 30}, "ecp5": {"LUT": 83640, "DSP": 156, "BRAM": 208}}


# Signed operand bits one DSP tile multiplies: SB_MAC16 16x16, MULT18X18D 18x18, DSP48E1 25x18.
TILE = {"ice40": (16, 16), "ecp5": (18, 18), "xc7": (25, 18)}


def tiles(family, a, b) -> int:
    x, y = TILE[family]
    return min(-(-a // x) * -(-b // y), -(-a // y) * -(-b // x))


def multipliers(spec, family) -> str:
    """Multipliers in the engine, and the DSP tiles they need: the MAC array (w_bits x a_bits), the
    update unit's c*z (c_bits x z_bits; a 24-bit c takes two 16x16 or 18x18 tiles)."""
    z = spec.z_format.bits
    n = spec.mac.multipliers + spec.lanes
    need = spec.mac.multipliers * tiles(family, spec.w_bits, spec.a_bits) + spec.lanes * tiles(family, spec.c_bits, z)
    return f"{n}/{need}"


def fits(family, cats) -> str:
    cap = CAPACITY.get(family)
    if not cap:
        return "-"
    return "yes" if all(cats[k] <= v for k, v in cap.items()) else "no"


def main(presets=PRESETS) -> None:
    t_all = time.perf_counter()
    rows, blocks, fmax_rows = [], [], []
    for name in presets:
        spec = parse(name)
        for fam in FAMILIES:
            r = synthesize(spec, fam)
            c = r["categories"]
            rows.append(f"| `{name}` | {fam} | " + " | ".join(str(c[k]) for k in KEYS) +
                        f" | {multipliers(spec, fam)} | {fits(fam, c)} | {r['seconds']:.1f} |")
            print(rows[-1], flush=True)
        parts = [("RNG unit", RngUnitSpec(spec)), ("perturb", spec.perturb), ("update", spec.update), ("MAC", spec.mac)]
        total = synthesize(spec, "ecp5")["categories"]
        rest = dict(total)
        for label, sub in parts:
            c = synthesize(sub, "ecp5")["categories"]
            blocks.append(f"| `{name}` | {label} | {c['LUT']} | {c['FF']} | {c['carry']} | {c['DSP']} | {c['BRAM']} |")
            for k in rest:
                rest[k] -= c[k]
        blocks.append(f"| `{name}` | decoder, memories, serializer (rest) | {rest['LUT']} | {rest['FF']} | "
                      f"{rest['carry']} | {rest['DSP']} | {rest['BRAM']} |")
        blocks.append(f"| `{name}` | **engine** | {total['LUT']} | {total['FF']} | {total['carry']} | "
                      f"{total['DSP']} | {total['BRAM']} |")
        for fam in ("ice40", "ecp5"):
            cats = synthesize(spec, fam)["categories"]
            if fits(fam, cats) == "no":
                fmax_rows.append(f"| `{name}` | {fam} | does not fit the device | - |")
                continue
            try:
                p = place_and_route(spec, fam)
                fmax_rows.append(f"| `{name}` | {fam} ({p['device']}) | {p['fmax_mhz']:.1f} | {p['seconds']:.0f} |")
            except ToolFailed as e:
                fmax_rows.append(f"| `{name}` | {fam} | failed: {str(e).splitlines()[0][:80]} | - |")
            print(fmax_rows[-1], flush=True)

    benchlib.write_report(OUT, [
        "# Engine synthesis: resources per family and Fmax", "",
        f"Command: `{benchlib.command('engine_synth.py')}` ({time.perf_counter() - t_all:.0f} s; results are "
        "cached by zoforge.synth, the seconds columns are those of the run that filled the cache).", "",
        f"Yosys: {yosys_version()}; commands `synth_ice40 -dsp`, `synth_ecp5`, `synth_xilinx -family xc7 -noiopad` "
        "(out of context, so xc7 FF counts exclude I/O registers). ice40 BRAM = SB_RAM40_4K (4 Kbit), ecp5 BRAM = "
        "DP16KD (18 Kbit), xc7 BRAM = RAMB18/36 primitives. `mult` = multipliers in the design (MAC array + update "
        "unit) / DSP tiles they need at their operand widths; DSP should equal the second number. "
        "`fits`: iCE40UP5K (5280 LUT, 8 DSP, 30 EBR) or LFE5U-85F.", "",
        *[f"- `{p}` = `{parse(p)}`" for p in presets], "",
        "| preset | family | " + " | ".join(KEYS) + " | mult | fits | seconds |",
        "|---|---|" + "---|" * len(KEYS) + "---|---|---|", *rows, "",
        "## Breakdown by block (ecp5)", "",
        "Each block synthesized alone from the engine's own sub-specs; the rest is the engine minus the blocks "
        "(command decoder FSM, argument and byte registers, response serializer, counters, weight and activation "
        "memories' glue).", "",
        "| preset | block | LUT | FF | carry | DSP | BRAM |", "|---|---|---|---|---|---|---|", *blocks, "",
        "## Fmax (nextpnr, through zoforge.synth's 4-pin wrapper)", "",
        "| preset | family (device) | Fmax MHz | seconds |", "|---|---|---|---|", *fmax_rows])


if __name__ == "__main__":
    main(sys.argv[1:] or PRESETS)
