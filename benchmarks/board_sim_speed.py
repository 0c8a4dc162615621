"""Simulated boards, Amaranth's simulator against Verilator, in one run: the iCEBreaker's board top
(UART pins at the board's real 12 cycles per bit, link, engine-s) trains the same small network for
the same steps through the host link driver on `sim:icebreaker` (pysim; here at divisor 12 too, so the
cycles are the same work) and on `sim-verilator:icebreaker`; both end with the golden engine's weights.
Records simulated cycles per second, seconds per ZO step, and the speed-up.

Usage: python benchmarks/board_sim_speed.py [STEPS]   (default 4)
Writes benchmarks/results/board_sim_speed.md.
"""
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge.boards.registry import get_board  # noqa: E402
from zoforge.device.connect import open_device  # noqa: E402
from zoforge.device.options import DeviceTrainOptions  # noqa: E402
from zoforge.device.run import load_weights, run_engine_training  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "board_sim_speed.md"
BOARD = get_board("icebreaker")


def train(device_name, steps, out, link=None):
    t0 = time.perf_counter()
    device = open_device(device_name, link=link)
    connect_seconds = time.perf_counter() - t0
    sim = getattr(device.link, "transport", None)
    sim = getattr(sim, "sim", None)
    cycles0 = sim.cycles if sim else 0
    opts = DeviceTrainOptions(steps=steps, batch=16, eval_interval=steps, out=str(out), progress=False)
    t0 = time.perf_counter()
    result = run_engine_training(device, opts)
    wall = time.perf_counter() - t0
    cycles = (sim.cycles - cycles0) if sim else 0
    device.close()
    weights, _ = load_weights(out / "weights.safetensors")
    return {"result": result, "wall": wall, "cycles": cycles, "connect": connect_seconds, "weights": weights}


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    tmp = pathlib.Path(tempfile.mkdtemp())
    open_device("sim-verilator:icebreaker").close()          # build (or reuse) the Verilator model first
    runs = {
        "golden": train("golden", steps, tmp / "golden"),
        "pysim": train("sim:icebreaker", steps, tmp / "pysim", link=str(BOARD.link)),
        "verilator": train("sim-verilator:icebreaker", steps, tmp / "verilator"),
    }
    rate = {k: r["cycles"] / r["wall"] for k, r in runs.items() if r["cycles"]}
    lines = ["# Simulated boards: Amaranth's simulator against Verilator", "",
             f"Board top of the iCEBreaker ({BOARD.engine}, {BOARD.link}) at {BOARD.clock_hz / 1e6:g} MHz, UART at "
             f"{BOARD.link.divisor} cycles per bit in both simulators; {steps} ZO steps of the default small "
             "network (batch 16) through the host link driver, one process, one after the other.", "",
             "| device | simulated cycles | wall s (training) | cycles/s | s per step | connect s | weights = golden |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, r in runs.items():
        cps = f"{rate[name]:,.0f}" if name in rate else "-"
        same = "yes" if np.array_equal(r["weights"], runs["golden"]["weights"]) else "NO"
        lines.append(f"| {name} | {r['cycles']:,} | {r['wall']:.2f} | {cps} | {r['wall'] / steps:.3f} | "
                     f"{r['connect']:.1f} | {same} |")
    speedup = rate["verilator"] / rate["pysim"]
    lines += ["", f"Verilator runs **{speedup:.0f}x** the cycles per second of Amaranth's simulator "
              f"({rate['verilator']:,.0f} against {rate['pysim']:,.0f}); a ZO step takes "
              f"{runs['verilator']['wall'] / steps:.3f} s against {runs['pysim']['wall'] / steps:.2f} s.",
              "'connect' includes elaborating the design (pysim) or loading the cached Verilator build; a first "
              "Verilator build takes about a minute and is cached under $ZOFORGE_CACHE_DIR/verilator-board.", "",
              f"Command: `{benchlib.command('board_sim_speed.py', sys.argv[1:])}`"]
    print(benchlib.write_report(OUT, lines))


if __name__ == "__main__":
    main()
