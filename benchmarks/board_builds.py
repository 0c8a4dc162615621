"""Board bitstream builds with the open tools: time per stage, utilisation against the device and Fmax
against the board clock, for each board's own engine preset and link (zoforge.boards.build).

Usage: python benchmarks/board_builds.py [BOARD ...]   (default: every board built with open tools)
Writes benchmarks/results/board_builds.md; the builds themselves go to build/bench/<board>.
"""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

from zoforge.boards.build import TimingError, build_board  # noqa: E402
from zoforge.boards.registry import BOARDS, get_board  # noqa: E402

OUT = pathlib.Path(__file__).with_name("results") / "board_builds.md"
ROOT = pathlib.Path(__file__).resolve().parents[1]
STAGES = ["elaborate", "synthesis", "place and route", "bitstream"]
RESOURCES = ["LUT", "FF", "DSP", "BRAM", "SPRAM", "IO"]


def main(names) -> None:
    t_all = time.perf_counter()
    rows, util, tools, notes = [], [], {}, []
    for name in names:
        board = get_board(name)
        try:
            report = build_board(board, None, None, ROOT / "build" / "bench" / name)
            verdict = "PASS"
        except TimingError as e:
            report, verdict = e.report, "**FAIL**"
        tools.update(report.tools)
        if report.yosys_fallback:
            reason = report.yosys_fallback.split(" (log")[0].split("failed: ", 1)[-1].replace("`", "'")
            notes.append(f"{name}: Yosys' ABC9 flow failed ({reason}); the synthesis time includes that attempt "
                         "and the `-noabc9` retry that built the bitstream.")
        rows.append(f"| {name} | {report.device} | `{board.engine}` | {report.seconds:.0f} | " +
                    " | ".join(f"{report.stages.get(s, 0):.1f}" for s in STAGES) +
                    f" | {report.fmax_mhz or 0:.1f} | {report.clock_mhz:g} | {verdict} | "
                    f"{report.bitstream_bytes or 0:,} |")
        cells = []
        for res in RESOURCES:
            u = report.utilisation.get(res)
            cells.append(f"{u['used']} / {u['total']} ({u['percent']:.1f}%)" if u else "-")
        util.append(f"| {name} | " + " | ".join(cells) + " |")
    benchlib.write_report(OUT, [
        "# Board builds: time, utilisation, Fmax",
        "",
        f"Command: `{benchlib.command('board_builds.py')}` ({time.perf_counter() - t_all:.0f} s on this machine, "
        "2 shared cores; YoWASP tools, WebAssembly caches warm).",
        "",
        "Each board is built with its own engine preset and link (`zoforge boards`): the engine behind the UART "
        "link, the board top's LEDs. Fmax is nextpnr's achieved frequency of the board clock; the build "
        "fails (no bitstream installed) when it is below the clock.",
        "",
        "| board | device | engine | total s | " + " | ".join(f"{s} s" for s in STAGES) +
        " | Fmax MHz | clock MHz | timing | bitstream bytes |",
        "|---|---|---|---|" + "---|" * len(STAGES) + "---|---|---|---|",
        *rows,
        "",
        *[f"{n}\n" for n in notes],
        "Utilisation (used / device total). iCE40 LUT = logic cells (each LUT4 + FF + carry), its FF count "
        "is Yosys' (one per logic cell), BRAM = 4 Kbit EBR; ECP5 LUT = LUT4, BRAM = 18 Kbit DP16KD.",
        "",
        "| board | " + " | ".join(RESOURCES) + " |",
        "|---|" + "---|" * len(RESOURCES),
        *util,
        "",
        "Tools: " + ", ".join(f"{k} {v}" for k, v in tools.items()),
    ])


if __name__ == "__main__":
    main(sys.argv[1:] or [b.name for b in BOARDS.values() if b.toolchain == "open"])
