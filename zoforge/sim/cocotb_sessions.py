"""Run a command session through Verilog under cocotb (Icarus or Verilator): the engine's byte streams
or a board top's UART pins (the benches are in :mod:`zoforge.sim.cocotb_session_bench`), with a
progress line on stderr every few seconds and, under Icarus, an optional VCD waveform.

Builds are cached like :mod:`zoforge.sim.cocotb_runner`'s, keyed by ``key`` (say, the spec and what
the Verilog is: RTL or a netlist).

Members: :func:`run_session` -> bytes received.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import tempfile
import threading
import time

from ..tools import ToolFailed, cache_dir, tool_env
from .cocotb_runner import _TIMESCALE, _build, _check_simulator, _failure_line, _locked

__all__ = ["run_session", "Ticker"]

_BENCH = "zoforge.sim.cocotb_session_bench"
_DUMP_TOP = "zoforge_dump"
# A second root module under Icarus: dumps the design to the VCD file named by +zoforge_vcd=PATH.
_DUMP = """module zoforge_dump;
  reg [8*1024-1:0] path;
  initial if ($value$plusargs("zoforge_vcd=%s", path)) begin
    $dumpfile(path);
    $dumpvars(0, {top});
  end
endmodule
"""


class Ticker:
    """A progress line on stderr at most every ``every`` seconds (silent for short jobs)."""

    def __init__(self, label: str, every: float = 5.0, stream=None):
        import sys
        self.label, self.every, self.stream = label, every, stream or sys.stderr
        self.t0 = self.last = time.perf_counter()

    def __call__(self, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.last >= self.every:
            self.last = now
            print(f"{self.label}: {text} [{now - self.t0:.0f} s]", file=self.stream, flush=True)


@contextlib.contextmanager
def _tools_on_path():
    """The venv's bin directory first on PATH while cocotb looks up the simulator (it uses PATH)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = tool_env()["PATH"]
    try:
        yield
    finally:
        os.environ["PATH"] = old


def run_session(simulator: str, key: str, top: str, verilog: str, testcase: str, params: dict, *,
                extra_sources: tuple = (), extra_args: tuple = (), waves: str | None = None,
                ticker: Ticker | None = None, expect_bytes: int | None = None) -> bytes:
    with _tools_on_path():
        return _run_session(simulator, key, top, verilog, testcase, params, extra_sources=extra_sources,
                            extra_args=extra_args, waves=waves, ticker=ticker, expect_bytes=expect_bytes)


def _run_session(simulator, key, top, verilog, testcase, params, *, extra_sources, extra_args, waves, ticker,
                 expect_bytes):
    _check_simulator(simulator)
    if waves and simulator != "icarus":
        raise ValueError("waveforms of cocotb runs are written under Icarus (use --simulator icarus or pysim)")
    from cocotb_tools.runner import get_runner
    runner = get_runner(simulator)
    runner.log.setLevel(logging.WARNING)
    root = cache_dir("cocotb-sessions")
    extra, args = tuple(extra_sources), tuple(extra_args)
    if simulator == "icarus":
        dump = root / f"{top}-dump.v"
        dump.write_text(_DUMP.format(top=top))
        extra, args = extra + (dump,), args + ("-s", _DUMP_TOP)
    if ticker:
        ticker(f"building the {simulator} model (cached)", force=True)
    bdir, _ = _build(runner, simulator, key, top, verilog, root, extra, args)
    with tempfile.TemporaryDirectory(prefix="zoforge-session-") as tmp:
        run = pathlib.Path(tmp)
        params = {**params, "out": str(run / "rx.bin"), "progress": str(run / "progress.txt")}
        (run / "params.json").write_text(json.dumps(params))
        log = run / "sim.log"
        plusargs = [f"+zoforge_vcd={pathlib.Path(waves).resolve()}"] if waves else []
        failure: list[BaseException] = []

        def go():
            with _locked(bdir / ".lock", exclusive=False):
                try:
                    runner.test(test_module=_BENCH, testcase=testcase, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                                build_dir=bdir, test_dir=run, plusargs=plusargs,
                                extra_env={"ZOFORGE_COCOTB_PARAMS": str(run / "params.json")},
                                results_xml=str(run / "results.xml"), log_file=log, timescale=_TIMESCALE)
                except SystemExit:
                    pass
                except BaseException as e:          # noqa: BLE001 - reported below
                    failure.append(e)

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
            if ticker and (run / "progress.txt").exists():
                try:
                    got = int((run / "progress.txt").read_text().split()[0])
                except (ValueError, IndexError):
                    continue
                of = f" of {expect_bytes}" if expect_bytes else ""
                ticker(f"{simulator}: {got}{of} response bytes")
        if failure or not (run / "rx.bin").exists():
            kept = bdir / "last-failed-run.log"
            kept.write_text(log.read_text(errors="replace") if log.exists() else "")
            reason = failure[0] if failure else _failure_line(log)
            raise ToolFailed(f"{simulator} session run of {top} failed: {reason} (log: {kept})", kept)
        return (run / "rx.bin").read_bytes()
