"""Power proxy of the engine's RNG subsystem: switching activity in simulation, weighted by the cells
synthesis gives, PeZO chains against Gaussian chains at equal throughput; next to the paper's "saves
at maximum 86 % power" (docs/references.md#pezo-rng-savings). The measurement is
``zoforge.sim.rng_power`` (also used by ``zoforge sweep``); this script tabulates it.

Method. The RNG unit (``zoforge/gen/engine_rng.py``: source chain + seed storage/derivation +
restart) runs in Amaranth's simulator through the RNG traffic of ZO steps on a vector of COUNT
words: SEED, then 4 passes (restart, COUNT words taken at one per cycle): the +1, -2, +1 and update
passes. Workload *step* includes the SEED (a pool refills); *steady* is 4 more passes without one
(PeZO's pool strategy: generate once, continue where the last perturbation stopped). A VCD of every
signal is reduced to nets (``zoforge/sim/activity.py``) and

    toggles/cycle = sum over net bits of bit flips / cycles   (raw activity; memory rows apart)
    alpha         = toggles/cycle / net bits                                (mean toggle rate)
    proxy         = alpha x (LUT + FF cells of the RNG unit after synthesis)

i.e. every LUT and FF is assumed to switch at the design's mean RTL toggle rate and to cost the same.
Limits: RTL nets, not the netlist; no glitches (zero-delay simulation); DSP and BRAM power is not in
the proxy (their counts are listed, and ``mem``: bit flips per cycle of memory rows, i.e. the pool's
refill writes; the pool also reads one BRAM row per streamed word); no static power, no clock tree;
equal capacitance per cell. Treat ratios, not absolute values.

Usage: python benchmarks/engine_rng_power.py [COUNT]
Writes benchmarks/results/engine_rng_power.md.
"""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge.gen.engine_rng import RngUnitSpec  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402
from zoforge.sim.rng_power import rng_activity  # noqa: E402
from zoforge.synth import synthesize  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "engine_rng_power.md"
FAMILIES = ["ice40", "ecp5", "xc7"]
PEZO = ["pezo-pool", "pezo-rotate", "pezo-uniform"]
GAUSS = ["clt4", "clt12", "icdf16"]
WIDTHS = {2: "-x2", 4: "-x4", 8: ""}
PAPER_SAVING = 86.0


def saving(p, g) -> str:
    return f"{100.0 * (1 - p / g):.1f}%"


def main(count: int = 512) -> None:
    t0 = time.perf_counter()
    lines = ["# RNG subsystem power proxy: switching activity x cells, PeZO against Gaussian", "",
             f"Command: `{benchlib.command('engine_rng_power.py')}`", "",
             __doc__[__doc__.index("Method."):__doc__.index("Usage:")].strip(), ""]
    for lanes, suffix in WIDTHS.items():
        res = {}
        for chain in PEZO + GAUSS:
            spec = parse("engine-s").replace(rng=chain + suffix)
            m = rng_activity(spec, count)
            m["cells"] = {fam: synthesize(RngUnitSpec(spec), fam)["categories"] for fam in FAMILIES}
            res[chain] = m
            print(lanes, chain, m["step"], m["steady"], flush=True)
        lines += [f"## {lanes} lanes, COUNT = {count} words per pass", "",
                  "| chain | net bits | cycles step/steady | toggles/cycle step | steady | alpha step | steady | "
                  "proxy step ice40/ecp5/xc7 | proxy steady ice40/ecp5/xc7 | DSP | BRAM | mem step |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for chain in PEZO + GAUSS:
            m, c = res[chain], res[chain]["cells"]
            proxy = {w: "/".join(f"{m[w]['alpha'] * (c[f]['LUT'] + c[f]['FF']):.0f}" for f in FAMILIES)
                     for w in ("step", "steady")}
            lines.append(f"| `{chain + suffix}` | {m['bits']} | {m['cycles'][0]}/{m['cycles'][1]} | "
                         f"{m['step']['toggles']:.0f} | {m['steady']['toggles']:.0f} | {m['step']['alpha']:.3f} | "
                         f"{m['steady']['alpha']:.3f} | {proxy['step']} | {proxy['steady']} | "
                         f"{c['ecp5']['DSP']} | {c['ecp5']['BRAM']} | {m['step']['memory']:.1f} |")
        lines += ["", f"Saving of each PeZO chain against each Gaussian chain ({lanes} lanes), "
                      f"1 - PeZO/Gaussian of the ecp5 proxy, step / steady (raw toggles/cycle in brackets); "
                      f"paper: up to {PAPER_SAVING:.0f}%:", "",
                  "| PeZO chain | " + " | ".join(f"vs `{g + suffix}`" for g in GAUSS) + " |",
                  "|---|" + "---|" * len(GAUSS)]
        for p in PEZO:
            cells = []
            for g in GAUSS:
                pm, gm = res[p], res[g]
                prox = {k: {w: m[w]["alpha"] * (m["cells"]["ecp5"]["LUT"] + m["cells"]["ecp5"]["FF"])
                            for w in ("step", "steady")} for k, m in (("p", pm), ("g", gm))}
                cells.append(f"{saving(prox['p']['step'], prox['g']['step'])} / "
                             f"{saving(prox['p']['steady'], prox['g']['steady'])} "
                             f"({saving(pm['step']['toggles'], gm['step']['toggles'])} / "
                             f"{saving(pm['steady']['toggles'], gm['steady']['toggles'])})")
            lines.append(f"| `{p + suffix}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"Run time {time.perf_counter() - t0:.0f} s. DSP and BRAM columns are ecp5 counts. The pool chains "
              "read one BRAM row per streamed word and the Gaussian chains' DSPs switch every cycle; neither is in the "
              "proxy, so against CLT4 and ICDF (which use DSPs) the savings are, if anything, understated, and the "
              "pool's BRAM reads are the term the proxy leaves out on the PeZO side.", ""]
    benchlib.write_report(OUT, lines)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
