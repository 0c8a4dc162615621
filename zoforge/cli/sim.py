"""``zoforge sim`` for the engine and the board tops (random command sessions against the golden
engine), the options every ``sim`` shares (``--waves``, ``--netlist``/``--family``), and the
waveform written on a mismatch (the blocks with input streams and the link: :mod:`.sim_blocks`).

Hooked into ``cmd_sim`` of :mod:`zoforge.cli`: :func:`is_session_check` decides, :func:`cmd_sim_sessions`
runs; :func:`check_options` validates the shared options; :func:`mismatch_waves` names the
automatic waveform.
"""

from __future__ import annotations

import os
import pathlib

from ..errors import UsageError

__all__ = ["is_session_check", "cmd_sim_sessions", "check_options", "mismatch_waves", "simulator_of",
           "stream_kind_check"]

WAVES_DIR = "runs/sim"


def simulator_of(args) -> str:
    """--simulator, defaulting to pysim (RTL) or icarus (a netlist)."""
    if args.netlist:
        if args.simulator not in (None, "icarus"):
            raise UsageError(f"--netlist runs in icarus (with the family's cell models), "
                             f"not --simulator={args.simulator}")
        return "icarus"
    return args.simulator or "pysim"


def check_options(args) -> None:
    if bool(args.netlist) != bool(args.family):
        raise UsageError("--netlist and --family go together, e.g. --netlist synth --family ice40")
    if args.waves and not args.waves.endswith(".vcd"):
        raise UsageError(f"--waves={args.waves!r} must name a .vcd file")


def mismatch_waves(name: str, simulator: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:60]
    os.makedirs(WAVES_DIR, exist_ok=True)
    return str(pathlib.Path(WAVES_DIR) / f"{safe}-{simulator}-mismatch.vcd")


def is_session_check(args) -> bool:
    if args.board:
        return True
    if args.spec is None:
        raise UsageError("give a SPEC (see `zoforge list`) or --board NAME")
    from ..golden.spec import SpecError, parse
    try:
        return parse(args.spec).KIND == "engine"
    except SpecError:
        return False                     # the stream path reports the error with its allowed kinds


def stream_kind_check(text: str) -> None:
    """One line naming every kind ``zoforge sim`` runs, for a kind it does not."""
    from ..golden.source import SourceSpec
    from ..golden.spec import SpecError, kinds, parse
    from .sim_blocks import INPUT_KINDS
    spec = parse(text)
    if not isinstance(spec, SourceSpec):
        streams = [k for k, cls in kinds().items() if issubclass(cls, SourceSpec)]
        raise SpecError(f"sim: kind {spec.KIND!r} has no gateware to compare with a golden model; SPEC must "
                        f"be one of {'|'.join(streams + list(INPUT_KINDS) + ['link', 'engine'])} "
                        f"(or use --board NAME)")


def _engine_spec(text: str):
    from ..golden.engine import EngineSpec
    from ..golden.spec import SpecError, parse
    try:
        return parse(text, EngineSpec)
    except SpecError as e:
        raise SpecError(f"SPEC: {e}") from None


def cmd_sim_sessions(args, default_commands: int) -> int:
    from ..sim.engine_check import check_board, check_engine
    simulator = simulator_of(args)
    netlist = (args.netlist, args.family) if args.netlist else None
    if args.cycles is not None or args.backpressure is not None:
        raise UsageError("--cycles and --backpressure apply to stream blocks; an engine or board "
                         "check runs --sessions of --commands")
    if args.engine:
        raise UsageError("--engine goes with a link SPEC; with an engine SPEC or --board, SPEC is the engine")
    commands = args.commands or default_commands
    seed = args.seed or 1
    if args.board:
        from ..boards.registry import UnknownBoard, get_board
        from ..golden.link import LinkSpec
        from ..golden.spec import SpecError, parse
        try:
            board = get_board(args.board)
        except UnknownBoard as e:
            raise UsageError(f"--board: {e}") from None
        spec = _engine_spec(args.spec or board.engine)
        try:
            link = parse(args.link, LinkSpec) if args.link else board.link
        except SpecError as e:
            raise SpecError(f"--link: {e}") from None
        run = lambda waves: check_board(board, spec, link, simulator, sessions=args.sessions or 1,  # noqa: E731
                                        commands=commands, seed=seed, waves=waves, netlist=netlist)
        name = f"{board.name}-board"
    else:
        if args.link:
            raise UsageError("--link applies with --board")
        spec = _engine_spec(args.spec)
        if args.waves and simulator == "verilator":
            raise UsageError("waveforms of the engine are written by pysim or icarus; "
                             "use --simulator pysim|icarus with --waves")
        run = lambda waves: check_engine(spec, simulator, sessions=args.sessions or 3,  # noqa: E731
                                         commands=commands, seed=seed, waves=waves, netlist=netlist)
        name = "engine"
    result = run(args.waves)
    rate = f", {result.cycles} cycles" if result.cycles else ""
    if result.ok:
        print(f"OK: {result.simulator} equals the golden engine on {result.sessions} sessions, {result.commands} "
              f"commands, {result.response_bytes} response bytes of {result.what} [{result.seconds:.1f} s{rate}]"
              + (f"; waveform {result.waves}" if result.waves else ""))
        return 0
    print(f"FAIL: {result.simulator} differs from the golden engine for {result.what}")
    for line in result.differences:
        print(f"  {line}")
    waves = result.waves
    if waves is None and not (simulator == "verilator" and not args.board):
        waves = mismatch_waves(name, simulator)
        run(waves)
    print(f"  waveform: {waves}" if waves else "  waveform: rerun with --simulator pysim|icarus --waves FILE")
    return 1
