"""Simulation speed of the engine gateware in Amaranth's simulator, in clock cycles per second, on
whole command sessions (every opcode: LOAD, SEED, START, PERTURB, UPDATE, FORWARD, READ, ...).

The workload is fixed by the spec and the seed: :func:`zoforge.golden.engine_sessions.random_session`
with the streams always valid and ready, so every run simulates the same cycles. Each repeat builds
a fresh simulator, runs the session and checks its responses against the golden engine. cycles/s is
the session's clock cycles over the CPU time of the simulating process (the simulator is single
threaded; CPU time, unlike wall time, does not count time the process waited for a core on a shared
machine), wall cycles/s the same over wall time; simulator construction is excluded. The table reports
the median over the repeats.

Run: ``python benchmarks/engine_sim_speed.py [--spec SPEC ...] [--commands N] [--repeats N]
[--out PATH]`` (default: engine-s and engine-m, 120 commands, 3 repeats).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import benchlib  # noqa: E402

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
from zoforge.golden import parse  # noqa: E402
from zoforge.golden.engine_model import EngineModel  # noqa: E402
from zoforge.golden.engine_sessions import random_session  # noqa: E402
from zoforge.sim.engine_sim import SimEngine  # noqa: E402


def measure(spec, commands: int, seed: int) -> tuple[int, float, float]:
    """(clock cycles, CPU seconds, wall seconds) of one session; exits if the responses differ from
    the golden engine's."""
    cmds = b"".join(random_session(spec, np.random.default_rng(seed), commands))
    sim = SimEngine(spec)
    c0, t0 = time.process_time(), time.perf_counter()
    got = sim.transact(cmds)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    if got != EngineModel(spec).transact(cmds):
        raise SystemExit(f"engine_sim_speed: {spec} responses differ from the golden engine")
    return sim.link.cycles, cpu, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", action="append", help="engine spec string, repeatable (default: engine-s, engine-m)")
    ap.add_argument("--commands", type=int, default=120, help="commands per session")
    ap.add_argument("--repeats", type=int, default=3, help="sessions simulated per spec")
    ap.add_argument("--seed", type=int, default=5, help="session seed")
    ap.add_argument("--out", default=None, help="write a markdown table here (default: print only)")
    args = ap.parse_args(argv)
    lines = [f"Command: `{benchlib.command('engine_sim_speed.py', argv)}`", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}; "
             f"{time.strftime('%Y-%m-%d %H:%M:%S')}.",
             "", "| spec | cycles | cycles/s (CPU) | cycles/s (wall) |", "|---|---:|---:|---:|"]
    for text in args.spec or ["engine-s", "engine-m"]:
        spec = parse(text)
        runs = [measure(spec, args.commands, args.seed) for _ in range(args.repeats)]
        cpu = statistics.median(c / t for c, t, _ in runs)
        wall = statistics.median(c / t for c, _, t in runs)
        lines.append(f"| {text} | {runs[0][0]} | {cpu:,.0f} | {wall:,.0f} |")
    if args.out:
        benchlib.write_report(args.out, lines)
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
