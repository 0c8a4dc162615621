"""Can the tests see a bug? Apply one deliberate mutation at a time to the engine, link and device
code, run the test files that cover it, and record whether they fail (the mutation is killed) or
stay green (it survives). Each mutation replaces one exact piece of source text (it must occur once;
a mutation whose text is gone is reported as "not applicable"), and the file is restored afterwards
whatever happens.

Writes a markdown table (default ``benchmarks/results/mutations.md``) headed by the command.
Run: ``python benchmarks/mutations.py [--only NAME ...] [--out PATH]`` from the repository root.
Slow tests (synthesis) are left out: no mutation here changes what they check. Hypothesis runs with
a fixed seed and an empty example database per mutation, so an outcome never depends on examples a
previous run stored.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import benchlib  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


ENGINE_TESTS = ("tests/gen/test_engine.py", "tests/golden/test_engine.py")
LINK_TESTS = ("tests/gen/test_link.py", "tests/golden/test_link.py", "tests/device/test_board_link.py")
DEVICE_TESTS = ("tests/device/test_engine_trainer.py", "tests/device/test_engine_run.py")

MUTATIONS = [
    Mutation("pool-row-frozen", "device trainer: the pool start row never advances",
             "zoforge/device/trainer.py",
             "self.client.start(first // spec.lanes)", "self.client.start(0)",
             DEVICE_TESTS + ("tests/gen/test_engine.py",)),
    Mutation("start-row-plus-one", "engine gateware: START hands row+1 to the RNG chain",
             "zoforge/gen/engine.py",
             'rng.row.payload.eq(dec.arg(Op.START, "row"))', 'rng.row.payload.eq(dec.arg(Op.START, "row") + 1)',
             ENGINE_TESTS),
    Mutation("perturb-sign", "perturb gateware only: s=+1 subtracts eps*z instead of adding it",
             "zoforge/gen/perturb.py",
             "Mux(s[0], d, 0)", "Mux(s[0], -d, 0)",
             ("tests/gen/test_perturb.py",) + ENGINE_TESTS),
    Mutation("update-rounding", "update golden only: nearest_even rounds half up",
             "zoforge/golden/update.py",
             "u = shift_round(total, spec.shift, spec.rounding, random_bits)",
             'u = shift_round(total, spec.shift, "half_up" if spec.rounding == "nearest_even" else spec.rounding, '
             "random_bits)",
             ("tests/golden/test_update.py", "tests/gen/test_update.py") + ENGINE_TESTS),
    Mutation("forward-bound", "engine gateware: FORWARD rejects a matrix that ends exactly at the last word",
             "zoforge/gen/engine_blocks.py",
             '(arg(Op.FORWARD, "base") + prod <= spec.words)', '(arg(Op.FORWARD, "base") + prod < spec.words)',
             ENGINE_TESTS),
    Mutation("crc-init", "link gateware: CRC-16 initial value 0x0000 instead of 0xFFFF (XMODEM for IBM-3740)",
             "zoforge/gen/link.py",
             "from amaranth.lib.crc.catalog import CRC16_IBM_3740",
             "from amaranth.lib.crc.catalog import CRC16_XMODEM as CRC16_IBM_3740",
             LINK_TESTS),
    Mutation("retry-by-seq-only", "link gateware: a frame with the last seq is a retry even if its CRC differs",
             "zoforge/gen/link.py",
             "retry = have_last & (seq == last_seq) & (tail == last_crc)", "retry = have_last & (seq == last_seq)",
             LINK_TESTS),
    Mutation("stale-answer", "device link driver: an answer's seq is not checked (a stale answer is taken)",
             "zoforge/device/link.py",
             "if checked is None or checked[0] != seq:", "if checked is None:",
             LINK_TESTS),
]


PYTEST_ARGS = ["-q", "-x", "-n", "0", "-m", "not slow", "-p", "no:cacheprovider", "--hypothesis-seed=0"]


def run(mutation: Mutation) -> dict:
    """Apply, test, restore; the outcome and the first failing test."""
    path = ROOT / mutation.path
    text = path.read_text()
    if text.count(mutation.old) != 1:
        return {"outcome": "not applicable (text not found once)", "first": "", "seconds": 0.0}
    cmd = [sys.executable, "-m", "pytest", *PYTEST_ARGS, *mutation.tests]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as examples:
        env = dict(os.environ, PYTHONPATH=str(ROOT), AMARANTH_USE_YOSYS="builtin",
                   HYPOTHESIS_STORAGE_DIRECTORY=examples)
        try:
            path.write_text(text.replace(mutation.old, mutation.new))
            out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        finally:
            path.write_text(text)
    seconds = time.perf_counter() - t0
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out.stdout, re.M)
    if out.returncode == 0:
        outcome = "**survives**"
    elif failed:
        outcome = "killed"
    else:
        outcome = f"pytest exit {out.returncode}"
    return {"outcome": outcome, "first": failed[0] if failed else "", "seconds": seconds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=[m.name for m in MUTATIONS], help="run this mutation only")
    ap.add_argument("--out", default="benchmarks/results/mutations.md")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    lines = [f"Command: `{benchlib.command('mutations.py', argv)}`", "",
             "Each mutation is applied alone, its test files run with "
             f"`python -m pytest {shlex.join(PYTEST_ARGS)} FILES` (a fresh Hypothesis example database each "
             "time), and the file restored.", "",
             "| mutation | what | file | tests run | outcome | first failing test | s |",
             "|---|---|---|---|---|---|---:|"]
    for m in chosen:
        r = run(m)
        print(f"{m.name}: {r['outcome']} {r['first']} ({r['seconds']:.0f} s)", flush=True)
        tests = ", ".join(f"`{t}`" for t in m.tests)
        lines.append(f"| {m.name} | {m.what} | `{m.path}` | {tests} | {r['outcome']} | "
                     f"{'`' + r['first'] + '`' if r['first'] else ''} | {r['seconds']:.0f} |")
    benchlib.write_report(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
