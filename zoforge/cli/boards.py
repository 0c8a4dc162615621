"""``zoforge boards | build | flash``: the board subcommands.

Hooked into the main CLI by :func:`add_board_parsers` (``zoforge/cli.py``). A bad board name, spec or
missing bitstream gives one line and exit status 2; a tool that is missing or fails, or a design that
misses the board clock, gives one line and exit status 1.
"""

from __future__ import annotations

import sys

from ..errors import ToolError
from .values import path

__all__ = ["add_board_parsers"]

CHECK_COMMANDS = 6            # commands of the gate-level check before a build


def _usage(message: str):
    from ..errors import UsageError
    return UsageError(message)


def _board(name: str):
    from ..boards.registry import UnknownBoard, get_board
    try:
        return get_board(name)
    except UnknownBoard as e:
        raise _usage(str(e)) from None


def _spec(option: str, text: str, kind):
    from ..golden.spec import SpecError, parse
    try:
        return parse(text, kind)
    except SpecError as e:
        raise SpecError(f"{option}: {e}") from None


def open_boards() -> str:
    from ..boards.registry import BOARDS
    return ", ".join(b.name for b in BOARDS.values() if b.toolchain == "open")


def cmd_boards(args) -> int:
    from ..boards.build import bitstream_names
    from ..boards.registry import BOARDS
    for b in BOARDS.values():
        built = "bitstream with open tools" if b.toolchain == "open" else "Vivado project (Vivado builds it)"
        print(f"{b.name:<11} {b.family:<5} {b.clock_hz / 1e6:>5g} MHz  engine {b.engine:<9} "
              f"link {b.baud / 1e6:g} Mbaud  {built} -> {bitstream_names(b)[0]}")
        print(f"{'':<11} {b.description}")
    return 0


def cmd_build(args) -> int:
    from ..golden.engine import EngineSpec
    from ..golden.link import LinkSpec
    from ..boards.build import build_board, default_out_dir
    board = _board(args.board)
    engine = _spec("--engine", args.engine or board.engine, EngineSpec)
    link = _spec("--link", args.link, LinkSpec) if args.link else board.link
    out = args.output or default_out_dir(board)
    if args.check_netlist and board.toolchain != "open":
        raise _usage(f"--check-netlist: {board.name} is built by {board.toolchain}, whose netlist zoforge does "
                     f"not simulate; it checks boards built with open tools ({open_boards()})")
    if args.check_netlist:
        # The logic that goes into the bitstream, checked before it is built: Yosys's netlist of the board
        # top with the family's cell models, a short command session through the UART pins vs golden.
        from ..sim.engine_check import check_board
        check = check_board(board, engine, link, netlist=("synth", board.family), commands=CHECK_COMMANDS)
        if not check.ok:
            for line in check.differences:
                print(f"  {line}")
            raise ToolError(f"{board.name}: the synthesized netlist differs from the golden engine "
                            f"({len(check.differences)} differences above); no bitstream built")
        print(f"OK: {board.name}: the synthesized netlist equals the golden engine on {check.commands} commands "
              f"[{check.seconds:.0f} s]", flush=True)
    report = build_board(board, engine, link, out, progress=lambda line: print(line, flush=True))
    if report.status == "needs-vivado":
        print(report.message)
        return 0
    u = report.utilisation
    used = ", ".join(f"{k} {v['used']}/{v['total']} ({v['percent']:.0f}%)" for k, v in u.items() if v["used"])
    fmax = "n/a (no clocked logic)" if report.fmax_mhz is None else f"{report.fmax_mhz:.2f} MHz"
    print(f"OK: {board.name}: {report.bitstream} in {report.seconds:.0f} s; Fmax {fmax} "
          f"(clock {report.clock_mhz:g} MHz); {used}; report {out}/report.md")
    if args.flash:                       # build and load in one command; no board: one line, exit 1
        from ..boards.flash import flash_board
        sys.stdout.write(flash_board(board, str(report.bitstream)))
        print(f"OK: {report.bitstream} loaded onto {board.name} (configuration memory; `zoforge flash --flash` "
              f"writes the SPI flash)")
    return 0


def cmd_flash(args) -> int:
    from ..boards.flash import default_bitstream, flash_board
    board = _board(args.board)
    bitstream = args.bitstream or default_bitstream(board)
    try:
        output = flash_board(board, bitstream, flash=args.flash, cable=args.cable)
    except FileNotFoundError as e:
        raise _usage(str(e)) from None
    sys.stdout.write(output)
    where = "SPI flash" if args.flash else "configuration memory (until power-off; --flash to keep it)"
    print(f"OK: {bitstream} loaded onto {board.name} ({where})")
    return 0


def add_board_parsers(sub, parser_class) -> None:
    from ..boards.registry import BOARDS
    names = "|".join(BOARDS)

    s = sub.add_parser("boards", help="the boards zoforge builds for: FPGA, clock, engine preset, link")
    s.set_defaults(func=cmd_boards)

    s = sub.add_parser("build", help="bitstream for a board (open tools) or its Vivado project, with a "
                                     "utilisation and timing report")
    s.add_argument("--board", required=True, metavar="NAME", help=f"one of {names}")
    s.add_argument("--engine", metavar="SPEC",
                   help="engine spec or preset (default: the board's, see `zoforge boards`)")
    s.add_argument("--link", metavar="SPEC", help="link spec, e.g. link:divisor=12,cmd_bytes=512,rsp_bytes=512 "
                                                  "(default: the board's)")
    s.add_argument("-o", "--output", metavar="DIR", type=path("--output"),
                   help="output directory (default runs/build/<board>)")
    s.add_argument("--check-netlist", action="store_true",
                   help="first simulate Yosys's netlist of the board top (the family's cell models, Icarus) on a "
                        f"{CHECK_COMMANDS}-command session against the golden engine; a difference stops the build")
    s.add_argument("--flash", action="store_true", help="then load the bitstream onto the board with "
                                                        "openFPGALoader (as `zoforge flash`)")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("flash", help="load a bitstream onto a board with openFPGALoader")
    s.add_argument("--board", required=True, metavar="NAME", help=f"one of {names}")
    s.add_argument("--bitstream", metavar="PATH", help="default runs/build/<board>/top.bin (iCE40) or top.bit")
    s.add_argument("--flash", action="store_true", help="write the board's SPI flash (kept across power-off) "
                                                        "instead of the FPGA's configuration memory")
    s.add_argument("--cable", metavar="NAME", help="openFPGALoader cable, overriding the board's default")
    s.set_defaults(func=cmd_flash)
