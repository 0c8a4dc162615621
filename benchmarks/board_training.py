"""Hardware-in-the-loop training on the simulated iCEBreaker: the board top (UART pins, link, engine-s)
in Amaranth's simulator, driven by the host link driver, against the golden engine with the same
options; once over a clean link and once with faults injected into both directions of the UART
traffic. Records losses, equality of the final weights, link statistics and speed.

Usage: python benchmarks/board_training.py [STEPS] [FAULTY_STEPS]
Writes benchmarks/results/board_training.md.
"""
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge.boards.registry import get_board  # noqa: E402
from zoforge.device.connect import SIM_DIVISOR, connect, link_latency, open_device, sim_transport  # noqa: E402
from zoforge.device.options import DeviceTrainOptions  # noqa: E402
from zoforge.device.run import run_engine_training  # noqa: E402
from zoforge.device.transports import FaultyTransport  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "board_training.md"
BOARD = get_board("icebreaker")
FAULT_RATE = 0.05


def faulty_sim_device():
    spec, link = parse(BOARD.engine), BOARD.link.replace(divisor=SIM_DIVISOR)
    transport = FaultyTransport(sim_transport(BOARD, spec, link), np.random.default_rng(1), p=FAULT_RATE)
    device = connect("sim:icebreaker (faulty link)", transport, spec, link, BOARD,
                     latency=link_latency("sim", BOARD))
    return device, transport.inner.sim, transport


def train(device, steps, out):
    opts = DeviceTrainOptions(steps=steps, batch=16, eval_interval=max(1, steps // 4), out=str(out), progress=False)
    t0 = time.perf_counter()
    result = run_engine_training(device, opts)
    return result, time.perf_counter() - t0


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    faulty_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rows, tmp = [], pathlib.Path(tempfile.mkdtemp())
    for name, n in (("clean", steps), ("faulty", faulty_steps)):
        golden, _ = train(open_device("golden", engine=BOARD.engine), n, tmp / f"golden-{name}")
        if name == "clean":
            device = open_device("sim:icebreaker")
            sim, faults = device.link.transport.sim, None
        else:
            device, sim, transport = faulty_sim_device()
            faults = transport.faults
        result, wall = train(device, n, tmp / name)
        stats = device.link.stats
        rows.append((name, n, golden, result, wall, sim.cycles, stats, faults))
        device.close()
    lines = ["# Hardware-in-the-loop training on the simulated iCEBreaker", "",
             f"Command: `{benchlib.command('board_training.py')}`", "",
             f"Board top `{BOARD.engine}` + link (UART divisor {SIM_DIVISOR} in simulation; the board runs 1 Mbaud), "
             f"Amaranth's simulator, host link driver; task: 4 features, 3 classes, linear classifier, batch 16, "
             f"lr 0.1; the golden run is the golden engine model with the same options. The faulty run damages "
             f"{FAULT_RATE:.0%} of the transport's chunks in each direction (bit flip, truncation, loss, "
             "duplication).", "",
             "| run | steps | loss start -> end (sim) | accuracy | weights == golden | losses == golden | "
             "frames | resent | faults injected | simulated cycles | wall s | s/step |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, n, golden, result, wall, cycles, stats, faults in rows:
        same_w = bool(np.array_equal(result["codes"], golden["codes"]))
        same_l = (result["first"]["loss"], result["last"]["loss"]) == (golden["first"]["loss"], golden["last"]["loss"])
        injected = sum(faults.values()) if faults else 0
        lines.append(f"| {name} | {n} | {result['first']['loss']:.4f} -> {result['last']['loss']:.4f} | "
                     f"{result['first']['accuracy']:.3f} -> {result['last']['accuracy']:.3f} | {same_w} | {same_l} | "
                     f"{stats.frames} | {stats.resent} | {injected} | {cycles} | {wall:.1f} | {wall / n:.2f} |")
    clean = rows[0]
    board_seconds = clean[5] / BOARD.clock_hz
    lines += ["", f"Simulated board time of the clean run: {board_seconds:.3f} s at 12 MHz with the UART at 3 Mbaud "
              f"(the simulator runs {clean[5] / clean[4]:.0f} cycles/s, {clean[4] / board_seconds:.0f}x slower "
              f"than the board)."]
    benchlib.write_report(OUT, lines)


if __name__ == "__main__":
    main()
