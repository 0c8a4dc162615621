"""The `zoforge` command: one entry point, one subcommand per job, one spec grammar for all of them."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

from .. import atomic
from ..errors import ToolError, UsageError
from ..golden.spec import SpecError
from .values import identifier, integer, path

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):            # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")




def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"backpressure={text!r} must be a number in [0, 1)")
    return value


def _spec(text: str, seed: int | None = None, *, source: bool = True):
    """Parse a spec for a command. ``source``: the command needs a random-number source (a golden
    stream to compare with); otherwise any block with gateware will do."""
    from ..golden.source import SourceSpec
    from ..golden.spec import parse
    spec = parse(text, SourceSpec if source else None)
    if not source and not hasattr(spec, "create"):
        raise SpecError(f"spec: kind {spec.KIND!r} has no gateware to generate")
    if seed is not None:
        if not hasattr(spec, "seed"):
            raise UsageError(f"--seed: kind {spec.KIND!r} has no seed parameter")
        spec = spec.replace(seed=seed)      # validated like any other parameter
    return spec


# ---- subcommands --------------------------------------------------------------------------------

def cmd_list(args) -> int:
    from ..npu import design  # noqa: F401  (registers the gemm kind and its presets)
    from ..golden.spec import kinds, presets
    for kind, cls in kinds().items():
        if args.kind and kind != args.kind:
            continue
        print(f"{kind}: {cls.SUMMARY}")
        for name, default, allowed in cls.parameters():
            shown = hex(default) if isinstance(default, int) and name == "poly" else default
            print(f"  {name:<8} default {shown!s:<8} {allowed.describe():<34} {allowed.doc}")
    if args.kind and args.kind not in kinds():
        raise SpecError(f"list: kind {args.kind!r} is unknown; kind must be one of {'|'.join(kinds())}")
    if not args.kind:
        print("presets:")
        for name, (text, description) in presets().items():
            print(f"  {name:<14} {text:<52} {description}")
    return 0


def cmd_gen(args) -> int:
    from ..gen.emit import write
    spec = _spec(args.spec, args.seed, source=False)
    info = write(spec, args.output, args.name)
    print(f"wrote {os.path.join(args.output, info['top'] + '.v')} and manifest.json")
    print(f"  spec     {info['spec']}")
    if "outputs_per_cycle" in info:
        print(f"  outputs  {info['outputs_per_cycle']} x {info['output_format']['name']} per cycle, "
              f"first valid after {info['latency_cycles']} cycles")
    return 0


def cmd_golden(args) -> int:
    import numpy as np
    from ..limits import check_memory
    spec = _spec(args.spec, args.seed)
    atomic.check_target(args.output)
    # the words (int64), the .npy image and its copy: refused before allocating if they cannot fit
    check_memory(3 * 8 * args.count * spec.outputs_per_cycle, f"golden --count {args.count} of {spec}")
    words = spec.golden(args.count)
    buf = io.BytesIO()
    np.save(buf, words)
    atomic.write_bytes(args.output, buf.getvalue())
    print(f"wrote {args.output}: {words.shape[0]} cycles x {words.shape[1]} lanes of {spec.out_format} codes "
          f"(value = code / 2**{spec.out_format.frac}); spec {spec}")
    return 0


def cmd_sim(args) -> int:
    from ..sim.compare import describe, mismatches
    spec = _spec(args.spec, args.seed)
    start = time.perf_counter()
    if args.simulator == "pysim":
        from ..sim.pysim import collect
        got = collect(spec.create(), args.cycles, backpressure=args.backpressure)
    else:
        from ..sim.cocotb_runner import collect_cocotb
        got = collect_cocotb(spec, args.cycles, args.simulator, backpressure=args.backpressure)
    elapsed = time.perf_counter() - start
    expected = spec.golden(args.cycles)
    found = mismatches(expected, got)
    numbers = args.cycles * spec.outputs_per_cycle
    if found:
        print(f"FAIL: {args.simulator} differs from the golden model for {spec}")
        print(describe(found))
        return 1
    print(f"OK: {args.simulator} equals the golden model on {args.cycles} words ({numbers} numbers) "
          f"of {spec} [{elapsed:.1f} s]")
    return 0


def cmd_synth(args) -> int:
    from ..synth import synthesize, fmax
    spec = _spec(args.spec, source=False)
    report = synthesize(spec, args.family)
    if args.fmax:
        report["fmax_mhz"] = fmax(spec, args.family)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{spec} on {args.family} ({report.get('yosys', 'yosys')}):")
    for key in ("lut", "ff", "carry", "dsp", "bram", "lutram"):
        if key in report:
            print(f"  {key.upper():<7}{report[key]}")
    if "fmax_mhz" in report:
        print(f"  Fmax   {report['fmax_mhz']:.1f} MHz")
    return 0


def cmd_quality(args) -> int:
    from ..golden.stats import quality
    from ..limits import check_memory
    spec = _spec(args.spec, args.seed)
    check_memory(4 * 8 * args.count, f"quality --count {args.count}")   # words, floats and the statistics' copies
    values = spec.out_format.to_float(spec.golden(-(-args.count // spec.outputs_per_cycle))).ravel()
    q = quality(values)
    print(f"{spec}: {len(values)} samples")
    for key, value in q.items():
        print(f"  {key:<10}{value:.6g}")
    return 0


def cmd_quickstart(args) -> int:
    from ..quickstart import run
    return run(args.output)


# ---- parser -------------------------------------------------------------------------------------

SPEC_HELP = ("block spec: KIND, KIND:key=value,... or a preset name (see `zoforge list`), "
             "e.g. pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm")
MAX_COUNT = 100_000_000


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zoforge", description="Hardware generators for on-device zeroth-order fine-tuning.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("list", help="block kinds, their parameters with allowed ranges, and presets")
    s.add_argument("kind", nargs="?", help="show only this kind")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("gen", help="generate Verilog and manifest.json for a block")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("-o", "--output", required=True, type=path("--output"), help="output directory")
    s.add_argument("--name", type=identifier("--name"),
                   help="Verilog module and file name: letters, digits, '_' (default: the spec's kind)")
    s.add_argument("--seed", type=integer("seed", 1, 2**64 - 1), help="override the spec's seed")
    s.set_defaults(func=cmd_gen)

    s = sub.add_parser("golden", help="dump the golden model's first outputs to .npy (row = cycle, column = lane)")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--count", required=True, type=integer("count", 1, MAX_COUNT), help="cycles (rows) to dump")
    s.add_argument("--seed", type=integer("seed", 1, 2**64 - 1), help="override the spec's seed")
    s.add_argument("-o", "--output", required=True, type=path("--output"), help="output .npy file")
    s.set_defaults(func=cmd_golden)

    s = sub.add_parser("sim", help="simulate the generated block and compare every output with the golden model")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--cycles", type=integer("cycles", 1, 10_000_000), default=2000,
                   help="output words (transfers) to compare (default 2000)")
    s.add_argument("--simulator", choices=("pysim", "icarus", "verilator"), default="pysim")
    s.add_argument("--backpressure", type=_probability, default=0.25,
                   help="probability that the consumer stalls in a cycle (default 0.25)")
    s.add_argument("--seed", type=integer("seed", 1, 2**64 - 1), help="override the spec's seed")
    s.set_defaults(func=cmd_sim)

    s = sub.add_parser("synth", help="resource counts (LUT/FF/carry/DSP/BRAM) from Yosys")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--family", choices=("ice40", "ecp5", "xc7"), required=True)
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    s.add_argument("--fmax", action="store_true", help="also place and route with nextpnr (ice40, ecp5)")
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("quality", help="statistics of a block's numbers: mean, variance, kurtosis, max |z|, KS")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--count", type=integer("count", 1, MAX_COUNT), default=1_000_000, help="numbers to draw")
    s.add_argument("--seed", type=integer("seed", 1, 2**64 - 1), help="override the spec's seed")
    s.set_defaults(func=cmd_quality)

    from .npu import add_npu_parser
    add_npu_parser(sub, _Parser)
    from .train import add_host_parsers
    add_host_parsers(sub, _Parser)
    from .boards import add_board_parsers
    add_board_parsers(sub, _Parser)

    s = sub.add_parser("quickstart", help="the main job on an embedded default (what `make run` does)")
    s.add_argument("-o", "--output", default="rtl_out/quickstart", type=path("--output"), help="output directory")
    s.set_defaults(func=cmd_quickstart)
    return p


MAX_LINE = 500


def _line(message) -> str:
    """One line of at most MAX_LINE characters (inputs are already cut where they are echoed)."""
    text = " ".join(str(message).split()).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_LINE else f"{text[:MAX_LINE - 60]} ... {text[-50:]}"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "synth" and args.fmax and args.family == "xc7":
            raise UsageError("zoforge synth: --fmax is available for ice40 and ecp5 (no open xc7 place-and-route)")
        return args.func(args)
    except (UsageError, SpecError) as e:
        print(f"zoforge: error: {_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("zoforge: interrupted", file=sys.stderr)
        return 130
    except ToolError as e:
        print(f"zoforge: error: {_line(e)}", file=sys.stderr)
        return 1
    except MemoryError:
        print("zoforge: error: out of memory (the job did not fit; try a smaller size)", file=sys.stderr)
        return 1
    except OSError as e:                     # the system refused (disk full, permission ...): not a bug
        where = f" ({e.filename})" if e.filename else ""
        print(f"zoforge: error: {_line(f'{e.strerror or e}{where}')}", file=sys.stderr)
        return 1
    except Exception as e:                   # a bug: still one line, and marked so tests can find it
        print(f"zoforge: internal error: {type(e).__name__}: {_line(e)} (please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
