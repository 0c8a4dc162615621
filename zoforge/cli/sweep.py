"""``zoforge sweep SWEEP.toml|SPEC-RANGE -o DIR``: the design-space sweep subcommand.

Hooked into the main CLI by :func:`add_sweep_parser`. Flags override the sweep file's options. A bad
sweep file, SPEC-RANGE or option gives one line and exit status 2; without Ray, one line saying how to
install it and exit status 1. Invalid points are not errors: they are recorded as failed points.
"""

from __future__ import annotations

import argparse
import time

__all__ = ["add_sweep_parser"]


def _usage(message: str):
    from ..errors import UsageError
    return UsageError(message)


def cmd_sweep(args) -> int:
    from ..sweep.grid import SweepError, make_plan, parse_target
    from ..sweep.run import require_ray, run_sweep
    try:
        pts, options = parse_target(args.target)
        flags = {"families": args.families, "seeds": args.seeds, "steps": args.steps, "task": args.task,
                 "model": args.model, "power_words": args.power_words,
                 "quality": False if args.no_quality else None, "power": False if args.no_power else None,
                 "fmax": True if args.fmax else None}
        plan = make_plan(pts, **{**options, **{k: v for k, v in flags.items() if v is not None}})
    except SweepError as e:
        raise _usage(f"sweep: {e}") from None
    require_ray()
    bad = sum(1 for p in plan.points if p.error)
    print(f"sweep: {len(plan.points)} points ({bad} invalid, recorded as failed), families "
          f"{','.join(plan.families)}" + (f", {plan.seeds} seeds x {plan.steps} steps of task {plan.task}"
                                          if plan.quality else ""), flush=True)
    t0 = time.perf_counter()
    rows = run_sweep(plan, args.output, cache=args.cache, address=args.address, cpus=args.cpus)
    failed = sum(1 for r in rows if r["status"] != "ok")
    print(f"OK: {len(rows)} rows ({failed} failed) in {args.output}/results.jsonl, pareto.md, pareto.png "
          f"[{time.perf_counter() - t0:.0f} s]")
    return 0


def _count(name: str):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name}={text!r} must be an integer >= 1")
        return value
    return convert


def add_sweep_parser(sub, parser_class) -> None:
    s = sub.add_parser("sweep", help="evaluate a grid of perturbation sources on Ray: synthesis, power proxy "
                                     "and fine-tuning quality, with the Pareto front")
    s.add_argument("target", metavar="SWEEP.toml|SPEC-RANGE",
                   help="a sweep file, or a spec whose values list alternatives, e.g. "
                        "pezo:reuse=pool|none,pool=1024|4096,scale=sqrt3|norm,lanes=8,bits=16")
    s.add_argument("-o", "--output", required=True, metavar="DIR", help="results.jsonl, pareto.md, pareto.png")
    s.add_argument("--families", metavar="F,F", help="ice40|ecp5|xc7, comma-separated (default xc7,ecp5)")
    s.add_argument("--seeds", type=_count("seeds"), metavar="N", help="training seeds per point (default 3)")
    s.add_argument("--steps", type=_count("steps"), metavar="N", help="training steps per run (default 400)")
    s.add_argument("--task", choices=("lm", "classify"), help="quality task (default lm)")
    s.add_argument("--model", metavar="NAME", help="base (default: the pretrained base model) or a model "
                                                   "preset trained from scratch, e.g. tiny")
    s.add_argument("--power-words", type=_count("power-words"), metavar="N",
                   help="words per pass of the power workload (default 512)")
    s.add_argument("--address", metavar="auto|ray://HOST:PORT", help="run on an existing Ray cluster "
                                                                     "(default: a local Ray started for the sweep)")
    s.add_argument("--cpus", type=_count("cpus"), metavar="N", help="CPUs of the local Ray (default: all)")
    s.add_argument("--cache", metavar="DIR", help="measurement cache (default DIR/cache); share it between sweeps")
    s.add_argument("--no-quality", action="store_true", help="skip the training runs")
    s.add_argument("--no-power", action="store_true", help="skip the power proxy")
    s.add_argument("--fmax", action="store_true", help="also place and route for Fmax (ice40, ecp5)")
    s.set_defaults(func=cmd_sweep)
