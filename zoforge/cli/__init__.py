"""The `zoforge` command: one entry point, one subcommand per job, one spec grammar for all of them."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time

from .. import atomic
from ..errors import ToolError, UsageError, did_you_mean
from ..golden.spec import SpecError
from .values import identifier, integer, path, show_default

EXIT_BAD_INPUT = 2


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples keep their lines; an option with a default in argparse shows it (options whose default
    depends on the command or on other options write theirs into the help text themselves)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("(default" in text or default is None or default is False or default is argparse.SUPPRESS
                or not action.option_strings or isinstance(action, argparse._VersionAction)):
            return text
        return f"{text} (default {show_default(default)})".replace("%", "%%")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):            # one line instead of usage + message
        raise UsageError(f"{message}{_suggest(message)} (see {self.prog} --help)")


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def _suggest(message: str) -> str:
    """argparse's "invalid choice" gets a "did you mean" for a near miss."""
    found = _INVALID_CHOICE.search(message)
    if not found:
        return ""
    return did_you_mean(found.group(1), re.findall(r"'([^']*)'", found.group(2)))


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
        raise SpecError(f"list: kind {args.kind!r} is unknown{did_you_mean(args.kind, kinds())}; kind must be one "
                        f"of {'|'.join(kinds())}")
    shown = {name: entry for name, entry in presets().items()
             if not args.kind or entry[0].partition(":")[0] == args.kind}
    if shown:
        print("presets:" if not args.kind else f"{args.kind} presets:")
        for name, (text, description) in shown.items():
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
    from .sim import check_options, cmd_sim_sessions, is_session_check, mismatch_waves, simulator_of, stream_kind_check
    from .sim_blocks import block_kind, cmd_sim_block, cmd_sim_link
    from ..sim.compare import describe, mismatches
    check_options(args)
    if is_session_check(args):
        return cmd_sim_sessions(args, SIM_COMMANDS)
    backpressure = SIM_BACKPRESSURE if args.backpressure is None else args.backpressure
    kind = block_kind(args.spec)
    if kind == "link":
        return cmd_sim_link(args, args.commands or SIM_COMMANDS, backpressure, LINK_ENGINE)
    if kind is not None:
        return cmd_sim_block(args, SIM_CYCLES if args.cycles is None else args.cycles, backpressure)
    for name, value in (("--sessions", args.sessions), ("--commands", args.commands), ("--link", args.link),
                        ("--engine", args.engine)):
        if value is not None:
            raise UsageError(f"{name} does not apply to a random-number block such as {args.spec!r}; it is "
                             f"sized with --cycles")
    stream_kind_check(args.spec)
    spec = _spec(args.spec, args.seed)
    simulator = simulator_of(args)
    cycles = SIM_CYCLES if args.cycles is None else args.cycles
    if args.waves and simulator != "pysim":
        raise UsageError("stream waveforms are written by pysim; use --simulator pysim with --waves")
    netlist = (args.netlist, args.family) if args.netlist else None

    def run(waves=None):
        if simulator == "pysim":
            from ..sim.pysim import collect
            return collect(spec.create(), cycles, backpressure=backpressure, vcd=waves)
        from ..sim.cocotb_runner import run_cocotb
        return run_cocotb(spec, cycles, simulator, backpressure=backpressure, netlist=netlist).words

    start = time.perf_counter()
    print(f"sim: {cycles} words of {spec} on {simulator}" + (f" ({args.netlist} netlist, {args.family} cells)"
          if netlist else "") + " ...", file=sys.stderr, flush=True)
    got = run(args.waves)
    elapsed = time.perf_counter() - start
    expected = spec.golden(cycles)
    found = mismatches(expected, got)
    numbers = cycles * spec.outputs_per_cycle
    what = simulator if netlist is None else f"the {args.netlist} netlist ({args.family} cells, icarus)"
    if found:
        print(f"FAIL: {what} differs from the golden model for {spec}")
        print(describe(found))
        waves = args.waves or mismatch_waves(spec.KIND, "pysim")
        if not args.waves:
            run_pysim = simulator != "pysim"
            from ..sim.pysim import collect
            collect(spec.create(), cycles, backpressure=backpressure, vcd=waves)
            print(f"  waveform: {waves}" + (" (the RTL in pysim)" if run_pysim else ""))
        else:
            print(f"  waveform: {waves}")
        return 1
    print(f"OK: {what} equals the golden model on {cycles} words ({numbers} numbers) "
          f"of {spec} [{elapsed:.1f} s]" + (f"; waveform {args.waves}" if args.waves else ""))
    return 0


def cmd_synth(args) -> int:
    from ..synth import synthesize, fmax
    from ..progress import spinner
    spec = _spec(args.spec, source=False)
    with spinner(f"synthesis ({args.family})", every=10.0):         # Yosys can take minutes, nextpnr more
        report = synthesize(spec, args.family)
    if args.fmax:
        with spinner(f"place and route ({args.family})", every=10.0):
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
    if args.plot:
        atomic.check_target(args.plot)       # before the numbers are drawn
    check_memory(4 * 8 * args.count, f"quality --count {args.count}")   # words, floats and the statistics' copies
    values = spec.out_format.to_float(spec.golden(-(-args.count // spec.outputs_per_cycle))).ravel()
    q = quality(values)
    print(f"{spec}: {len(values)} samples")
    for key, value in q.items():
        print(f"  {key:<10}{value:.6g}")
    if args.plot:
        from ..host.plot import plot_distribution
        plot_distribution(args.plot, values, title=f"{spec}: {len(values)} samples")
        print(f"wrote {args.plot}: histogram and QQ plot against N(0, 1)")
    return 0


def cmd_quickstart(args) -> int:
    from ..quickstart import run
    return run(args.output)


# ---- parser -------------------------------------------------------------------------------------

SPEC_HELP = ("block spec: KIND, KIND:key=value,... or a preset name (see `zoforge list`), "
             "e.g. pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm")
MAX_COUNT = 100_000_000
SIM_COMMANDS = 30
SIM_CYCLES, SIM_BACKPRESSURE = 2000, 0.25      # stream blocks (None marks "not given": engines refuse them)
LINK_ENGINE = "engine-s"                         # the engine behind `zoforge sim link`


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zoforge", description="Hardware generators for on-device zeroth-order fine-tuning.",
                epilog="start with: zoforge list | zoforge quickstart | zoforge train --help (README.md has more)")
    p.add_argument("--version", action="version", version=f"zoforge {_version()}",
                   help="print zoforge's version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p.set_defaults(func=None, parser=p)

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

    s = sub.add_parser("sim", help="simulate a block, the engine or a board top and compare every output "
                                   "with the golden model",
                       epilog="examples: zoforge sim pezo --simulator verilator | zoforge sim engine-s "
                              "--simulator icarus | zoforge sim --board icebreaker --simulator verilator | "
                              "zoforge sim lfsr --netlist synth --family ice40 | zoforge sim pezo --waves pezo.vcd | "
                              "zoforge sim mac-int8 --cycles 500 | zoforge sim link --commands 20")
    s.add_argument("spec", nargs="?", help=SPEC_HELP + "; an engine spec or preset runs command sessions; "
                                                       "mac, perturb and update run random input streams; "
                                                       "a link spec runs sessions with damaged frames; "
                                                       "with --board, the engine (default: the board's)")
    s.add_argument("--board", metavar="NAME", help="the board top of NAME through its UART pins, against the "
                                                   "golden link and engine (see `zoforge boards`)")
    s.add_argument("--link", metavar="SPEC", help="with --board: the link spec (default: the board's)")
    s.add_argument("--engine", metavar="SPEC", help="with a link SPEC: the engine behind the link "
                                                    f"(default {LINK_ENGINE})")
    s.add_argument("--cycles", type=integer("cycles", 1, 10_000_000),
                   help=f"blocks: output words (transfers) to compare (default {SIM_CYCLES})")
    s.add_argument("--sessions", type=integer("sessions", 1, 1000),
                   help="engine/board/link: random command sessions (default 3 for the engine, 1 for a board "
                        "or a link)")
    s.add_argument("--commands", type=integer("commands", 1, 10_000),
                   help=f"engine/board/link: random commands per session (default {SIM_COMMANDS})")
    s.add_argument("--simulator", choices=("pysim", "icarus", "verilator"),
                   help="Amaranth's simulator (default), or the emitted Verilog in Icarus or Verilator "
                        "(icarus with --netlist)")
    s.add_argument("--backpressure", type=_probability,
                   help=f"blocks: probability that the consumer stalls in a cycle (mac, perturb, update, link: "
                        f"and that each input pauses) (default {SIM_BACKPRESSURE})")
    s.add_argument("--seed", type=integer("seed", 1, 2**64 - 1),
                   help="random-number blocks: override the spec's seed; mac, perturb, update, link, engine, "
                        "board: the seed of the random inputs (default 1)")
    s.add_argument("--waves", metavar="FILE.vcd", help="write a waveform (on a mismatch one is written anyway, "
                                                       "under runs/sim/)")
    s.add_argument("--netlist", choices=("synth", "pnr"), help="simulate Yosys's post-synthesis or nextpnr's "
                   "post-place-and-route netlist with the family's cell models (in icarus)")
    s.add_argument("--family", choices=("ice40", "ecp5"), help="with --netlist: the FPGA family")
    s.set_defaults(func=cmd_sim)

    s = sub.add_parser("synth", help="resource counts (LUT/FF/carry/DSP/BRAM) from Yosys")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--family", choices=("ice40", "ecp5", "xc7"), required=True,
                   help="FPGA family: ice40 (Lattice iCE40), ecp5 (Lattice ECP5), xc7 (Xilinx 7-series)")
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    s.add_argument("--fmax", action="store_true", help="also place and route with nextpnr (ice40, ecp5)")
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("quality", help="statistics of a block's numbers: mean, variance, kurtosis, max |z|, KS")
    s.add_argument("spec", help=SPEC_HELP)
    s.add_argument("--count", type=integer("count", 1, MAX_COUNT), default=1_000_000, help="numbers to draw")
    s.add_argument("--seed", type=integer("seed", 1, 2**64 - 1), help="override the spec's seed")
    s.add_argument("--plot", metavar="FILE.png", type=path("--plot"),
                   help="also draw the histogram and a QQ plot against N(0, 1)")
    s.set_defaults(func=cmd_quality)

    from .npu import add_npu_parser
    add_npu_parser(sub, _Parser)
    from .train import add_host_parsers
    add_host_parsers(sub, _Parser)
    from .boards import add_board_parsers
    add_board_parsers(sub, _Parser)
    from .sweep import add_sweep_parser
    add_sweep_parser(sub, _Parser)

    s = sub.add_parser("quickstart", help="the main job on an embedded default (what `make run` does)")
    s.add_argument("-o", "--output", default="runs/quickstart", type=path("--output"),
                   help="output directory (default runs/quickstart)")
    s.set_defaults(func=cmd_quickstart)
    return p


MAX_LINE = 500


def _line(message) -> str:
    """One line of at most MAX_LINE characters (inputs are already cut where they are echoed), without a
    second "zoforge ...:" prefix after the one main() prints."""
    text = " ".join(str(message).split()).encode("utf-8", "backslashreplace").decode("utf-8")
    text = _PREFIX.sub("", text)
    return text if len(text) <= MAX_LINE else f"{text[:MAX_LINE - 60]} ... {text[-50:]}"


def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("zoforge")
    except metadata.PackageNotFoundError:
        return "(not installed)"


_PREFIX = re.compile(r"^zoforge(?: [a-z-]+)?: ")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.func is None:                # bare `zoforge` (or `zoforge npu`): its help, no error
            args.parser.print_help()
            return 0
        if args.command == "synth" and args.fmax and args.family == "xc7":
            raise UsageError("--fmax is available for ice40 and ecp5 (no open xc7 place-and-route)")
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
