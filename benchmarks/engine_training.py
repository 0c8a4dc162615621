"""ZO training driven entirely through engine commands, on the golden engine: a linear classifier and a
ReLU MLP on a synthetic 4-class task, and the same run with every RNG chain at the engine's width.

The simulated gateware equals the golden engine bit for bit on these commands
(tests/gen/test_engine.py::test_training_steps_are_bit_identical_to_the_golden_run), so these curves
are the curves the gateware produces.

Usage: python benchmarks/engine_training.py [STEPS]
Writes benchmarks/results/engine_training.md.
"""
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge.device.client import EngineClient  # noqa: E402
from zoforge.device.options import DeviceTrainOptions  # noqa: E402
from zoforge.device.trainer import ZOTrainer, make_task  # noqa: E402
from zoforge.golden.engine_model import EngineModel  # noqa: E402
from zoforge.golden.spec import parse  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "engine_training.md"
PRESET = "engine-s"
CHAINS = ["pezo-pool-x2", "pezo-pool-r1-x2", "pezo-pool-fold-x2", "pezo-pool-fold-r1-x2", "pezo-rotate-x2",
          "pezo-uniform-x2", "clt4-x2", "clt12-x2", "icdf16-x2"]
SEEDS = (0, 1, 2)


def run(spec, config, task):
    client = EngineClient(EngineModel(spec), spec)
    client.check_spec()
    trainer = ZOTrainer(client, task, config)
    t0 = time.perf_counter()
    history = trainer.train()
    return history, client.status(), trainer, time.perf_counter() - t0


def curve_rows(history):
    return [f"| {h['step']} | {h['loss']:.4f} | {h['accuracy']:.3f} | {h['test_loss']:.4f} "
            f"| {h['test_accuracy']:.3f} |" for h in history]


def main(steps: int = 400) -> None:
    task = make_task(seed=1)
    base = parse(PRESET)
    lines = ["# ZO training through engine commands (golden engine)", "",
             f"Command: `{benchlib.command('engine_training.py')}`", "",
             f"Engine `{PRESET}` = `{base}`.",
             "Task: 8 standardized features, 4 Gaussian classes (centres 2.0 from the origin), 512 train / 512 test "
             "examples (`make_task(seed=1)`). Each step: SEED, SCALE (norm chains), PERTURB +1, FORWARD, PERTURB -2, "
             "FORWARD, PERTURB +1, UPDATE with c = lr*(L+ - L-)/(2 eps) (`zoforge/device/trainer.py`). "
             "Mini-batch 32, eps 2**-6, int8 activations with 4 fraction bits, lr given per section; the loss is "
             "computed by the host from the engine's exact sums.", ""]

    for title, hidden, n, lr in (("Linear classifier (4 x 9 weights)", [], steps, 0.05),
                                 ("MLP 8-16-4 (ReLU on the host between two engine FORWARDs)", [16], 2 * steps, 0.02)):
        cfg = DeviceTrainOptions(steps=n, lr=lr, batch=32, eval_samples=512, hidden=hidden,
                                 eval_interval=max(1, n // 10))
        history, status, trainer, secs = run(base, cfg, task)
        first, last = history[0], history[-1]
        print(f"{title}: loss {first['loss']:.3f} -> {last['loss']:.3f} ({secs:.1f} s)", flush=True)
        lines += [f"## {title}", "",
                  f"{n} steps, lr {lr}, {trainer.net.words} weight words per pass, {secs:.1f} s. Train loss "
                  f"{first['loss']:.3f} -> {last['loss']:.3f}, test accuracy "
                  f"{first['test_accuracy']:.3f} -> {last['test_accuracy']:.3f}. Engine counters at the end: {status}; "
                  f"c saturated on the host in {trainer.c_saturated} steps.", "",
                  "| step | train loss | train acc | test loss | test acc |", "|---|---|---|---|---|",
                  *curve_rows(history), ""]
        if hidden:
            # The same run at the linear classifier's lr: the weights reach the format's limits and the
            # engine's overflow counters say so (they are never hidden).
            hot, hot_status, _, _ = run(base, DeviceTrainOptions(steps=n, lr=0.05, batch=32, eval_samples=512,
                                                                hidden=hidden, eval_interval=n), task)
            lines += [f"At lr 0.05 the MLP diverges (train loss {hot[0]['loss']:.3f} -> "
                      f"{hot[-1]['loss']:.3f}): weights reach the limits of sQ3.12 and the engine reports "
                      f"{hot_status['perturb_overflows']} perturbation and {hot_status['update_overflows']} update "
                      f"overflows (status bit 7 set).", ""]

    lines += ["## RNG chains at equal outputs per cycle (linear classifier)", "",
              f"`{PRESET}` with `rng` replaced; {steps} steps; mean (min-max) over seeds {list(SEEDS)}. "
              "Pool chains: one SEED, then every step START at the row where the last perturbation stopped "
              "(PeZO's pre-generation strategy), and a new SEED (refill) every `refresh` steps of the chain's spec "
              "(`-r1`: every step); the other chains reseed every step.", "",
              "| rng | refresh | final train loss | final test acc |", "|---|---|---|---|"]
    for chain in CHAINS:
        spec = base.replace(rng=chain)
        options = [DeviceTrainOptions(steps=steps, lr=0.05, batch=32, eval_samples=512, seed=s, eval_interval=steps)
                   for s in SEEDS]
        finals = [run(spec, o, task)[0][-1] for o in options]
        loss = np.array([f["loss"] for f in finals])
        acc = np.array([f["test_accuracy"] for f in finals])
        refresh = getattr(spec.rng_spec, "refresh", "-") if spec.has_pool else "every step"
        row = (f"| `{chain}` | {refresh} | {loss.mean():.4f} ({loss.min():.3f}-{loss.max():.3f}) | "
               f"{acc.mean():.3f} ({acc.min():.3f}-{acc.max():.3f}) |")
        print(row, flush=True)
        lines.append(row)
    lines += ["", "Initial train loss: step 0 of the first table (seed 0; every chain starts from the same weights "
              "for a given seed). "
              "`pezo-rotate-x2` (2 generators, each vector held 8 transfers) gives 16 consecutive weights only 2 "
              "distinct numbers (rotated), so each step perturbs a 1/8-dimensional subspace and this small model "
              "trains far slower; more generators or a shorter hold (spec parameters `gens`, `hold`) trade RNG logic "
              "for that.", ""]
    benchlib.write_report(OUT, lines)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
