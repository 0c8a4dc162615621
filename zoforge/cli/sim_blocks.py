"""``zoforge sim`` for the blocks that take input streams (the MAC array, the perturbation and update
units: random valid input streams against the golden model, word by word) and for the link (in front
of an engine, on random sessions with damaged frames, against the golden link).

Hooked into ``cmd_sim`` of :mod:`zoforge.cli`: :func:`block_kind` decides, :func:`cmd_sim_block` and
:func:`cmd_sim_link` run.
"""

from __future__ import annotations

import sys

from ..errors import UsageError

__all__ = ["block_kind", "cmd_sim_block", "cmd_sim_link", "INPUT_KINDS"]

INPUT_KINDS = ("mac", "perturb", "update")


def block_kind(text: str | None) -> str | None:
    """The kind of SPEC when ``zoforge sim`` runs it here (a block with inputs, or the link)."""
    if text is None:
        return None
    from ..golden.spec import SpecError, parse
    try:
        kind = parse(text).KIND
    except SpecError:
        return None                      # the stream path reports the error with its allowed kinds
    return kind if kind in INPUT_KINDS + ("link",) else None


def _refuse(args, kind: str, simulators: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    """One line for the first option that does not apply to ``kind`` (``allowed``: its size options)."""
    if args.netlist:
        raise UsageError(f"--netlist runs stream blocks, the engine and board tops; {kind} runs its RTL "
                         f"(--simulator {'|'.join(simulators)})")
    simulator = args.simulator or "pysim"
    if simulator not in simulators:
        hint = "; the link in Verilog: zoforge sim --board NAME --simulator icarus|verilator" if kind == "link" else ""
        raise UsageError(f"--simulator={simulator}: {kind} runs in {'|'.join(simulators)}{hint}")
    if args.waves and simulator != "pysim":
        raise UsageError(f"waveforms of {kind} are written by pysim; use --simulator pysim with --waves")
    given = [name for name, value in (("--cycles", args.cycles), ("--sessions", args.sessions),
                                      ("--commands", args.commands), ("--link", args.link),
                                      ("--engine", args.engine)) if value is not None]
    wrong = [name for name in given if name not in allowed]
    if wrong:
        raise UsageError(f"{wrong[0]} does not apply to {kind}; {kind} takes {_listed(allowed)}")


def _listed(names) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _waves_after_failure(args, name: str, rerun) -> str:
    """The waveform named in a FAIL line: --waves, or one written now by rerunning in pysim."""
    from .sim import mismatch_waves
    if args.waves:
        return args.waves
    waves = mismatch_waves(name, "pysim")
    rerun(waves)
    return waves + (" (the RTL in pysim)" if (args.simulator or "pysim") != "pysim" else "")


def cmd_sim_block(args, cycles: int, backpressure: float) -> int:
    from ..golden.spec import parse
    from ..limits import check_memory
    from ..sim.block_check import check_block, stimulus_bytes
    from ..sim.cocotb_sessions import Ticker
    spec = parse(args.spec)
    _refuse(args, spec.KIND, ("pysim", "icarus", "verilator"), ("--cycles",))
    check_memory(stimulus_bytes(spec, cycles), f"sim --cycles {cycles} of {spec.KIND}")
    simulator = args.simulator or "pysim"
    seed = args.seed or 1
    run = lambda sim, waves: check_block(spec, cycles, sim, seed=seed, backpressure=backpressure,  # noqa: E731
                                         waves=waves, ticker=Ticker(f"sim {spec.KIND}"))
    print(f"sim: {cycles} words of random input streams through {spec} on {simulator} ...", file=sys.stderr,
          flush=True)
    result = run(simulator, args.waves)
    if result.ok:
        print(f"OK: {simulator} equals the golden model on {result.words} words ({result.numbers} numbers) "
              f"of {spec} [{result.seconds:.1f} s]" + (f"; waveform {args.waves}" if args.waves else ""))
        return 0
    print(f"FAIL: {simulator} differs from the golden model for {spec}")
    for line in result.differences:
        print(f"  {line}")
    print(f"  waveform: {_waves_after_failure(args, spec.KIND, lambda waves: run('pysim', waves))}")
    return 1


def cmd_sim_link(args, commands: int, backpressure: float, engine_default: str) -> int:
    from ..golden.engine import EngineSpec
    from ..golden.link import LinkSpec
    from ..golden.spec import SpecError, parse
    from ..sim.cocotb_sessions import Ticker
    from ..sim.link_check import check_link
    _refuse(args, "link", ("pysim",), ("--sessions", "--commands", "--engine"))
    link = parse(args.spec, LinkSpec)
    try:
        engine = parse(args.engine or engine_default, EngineSpec)
    except SpecError as e:
        raise SpecError(f"--engine: {e}") from None
    sessions = args.sessions or 1
    seed = args.seed or 1
    run = lambda waves: check_link(link, engine, sessions=sessions, commands=commands, seed=seed,  # noqa: E731
                                   backpressure=backpressure, waves=waves, ticker=Ticker("sim link"))
    print(f"sim: {sessions} sessions of {commands} commands with damaged frames through {link} in front of "
          f"{engine} on pysim ...", file=sys.stderr, flush=True)
    result = run(args.waves)
    c = result.counters
    if result.ok:
        print(f"OK: pysim equals the golden link on {result.sessions} sessions, {result.frames} frames, "
              f"{result.response_bytes} response bytes of {result.what} [{result.seconds:.1f} s, {result.cycles} "
              f"cycles]; executed {c.frames}, retries {c.retries}, dropped {c.dropped}, refused {c.refused}, "
              f"abandoned {c.abandoned}" + (f"; waveform {args.waves}" if args.waves else ""))
        return 0
    print(f"FAIL: pysim differs from the golden link for {result.what}")
    for line in result.differences[:10]:
        print(f"  {line}")
    print(f"  waveform: {_waves_after_failure(args, 'link', run)}")
    return 1
