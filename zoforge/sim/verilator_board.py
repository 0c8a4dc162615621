"""A board top compiled by Verilator with a small C++ harness (``board_harness.cpp``) that moves bytes
between a pipe and the UART pins: the same interface as :class:`~zoforge.sim.board_sim.BoardSim`, so
:class:`~zoforge.device.transports.SimTransport` and the board checks use either one, and about a
hundred times faster than Amaranth's simulator (no Python call per clock cycle).

Builds are cached per (engine spec, link spec, clock, trace) under ``$ZOFORGE_CACHE_DIR/verilator-board``
and redone only when the Verilog, the harness or Verilator changes; a first build takes ~1 minute on
two cores and prints progress lines.

Members
-------
VerilatorBoard(engine_spec, link_spec, clock_hz, *, vcd=None, progress=None)
  .write(data), .read_until(terminator, max_cycles), .run(cycles), .cycles, .framing_errors, .close()
build_board_harness(engine_spec, link_spec, clock_hz, *, trace=False, progress=None) -> executable path
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import struct
import subprocess
import sys
import threading
import time

from ..tools import SimulatorMissing, ToolFailed, cache_dir, find_tool, log_tail, tool_env
from .board_verilog import board_verilog

__all__ = ["VerilatorBoard", "build_board_harness"]

_HARNESS = pathlib.Path(__file__).with_name("board_harness.cpp")
_NO_TERMINATOR = 0xFFFF


def _verilator() -> str:
    from .cocotb_runner import simulator_available
    reason = simulator_available("verilator")
    if reason:
        raise SimulatorMissing(reason)
    return find_tool("verilator")


def _heartbeat(proc: subprocess.Popen, say, what: str) -> threading.Thread:
    """A line every 10 s while ``proc`` runs, so a long build is not silent."""
    def beat():
        t0 = time.perf_counter()
        while proc.poll() is None:
            time.sleep(0.5)
            if proc.poll() is None and int(time.perf_counter() - t0) % 10 == 0:
                say(f"{what}: {time.perf_counter() - t0:.0f} s")
                time.sleep(0.6)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    return thread


def build_board_harness(engine_spec, link_spec, clock_hz: int, *, trace: bool = False, progress=None) -> pathlib.Path:
    from .cocotb_runner import _locked, _verilator_make_flags
    exe = _verilator()
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    top, verilog = board_verilog(engine_spec, link_spec, int(clock_hz))
    harness = _HARNESS.read_text()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    stamp = {"verilog_sha256": hashlib.sha256(verilog.encode()).hexdigest(),
             "harness_sha256": hashlib.sha256(harness.encode()).hexdigest(), "verilator": version, "trace": trace}
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    work = cache_dir("verilator-board", f"{engine_spec.KIND}-{key}")
    binary = work / "obj_dir" / "board_sim"
    stamp_file = work / "zoforge-build.json"
    with _locked(work / ".lock", exclusive=True):
        if binary.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
            return binary
        stamp_file.unlink(missing_ok=True)
        (work / f"{top}.v").write_text(verilog)
        (work / "board_harness.cpp").write_text(harness)
        flags = _verilator_make_flags()
        cmd = [exe, "--cc", "--exe", "--build", "-j", str(os.cpu_count() or 1), "-Wno-fatal", "-Wno-lint",
               "--top-module", top, "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
               "-CFLAGS", "-O2", "-o", "board_sim", f"{top}.v", "board_harness.cpp"]
        if trace:
            cmd[1:1] = ["--trace", "-CFLAGS", "-DZOFORGE_TRACE"]
        if flags:
            cmd[1:1] = ["-MAKEFLAGS", flags]
        log = work / "build.log"
        say(f"verilator: building the board top of {engine_spec} (once per spec; ~1 minute)")
        t0 = time.perf_counter()
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT, env=tool_env())
            _heartbeat(proc, say, "verilator build")
            code = proc.wait()
        if code != 0 or not binary.exists():
            raise ToolFailed(f"verilator build of the board top failed: {log_tail(log)} (log: {log})", log)
        say(f"verilator: built in {time.perf_counter() - t0:.0f} s")
        stamp_file.write_text(json.dumps(stamp, indent=1))
    return binary


class VerilatorBoard:
    def __init__(self, engine_spec, link_spec, clock_hz: int, *, vcd: str | None = None, progress=None):
        self.divisor = int(link_spec.divisor)
        binary = build_board_harness(engine_spec, link_spec, clock_hz, trace=bool(vcd), progress=progress)
        args = [str(binary), str(self.divisor)] + ([str(pathlib.Path(vcd).resolve())] if vcd else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.cycles = 0
        self.framing_errors = 0
        self._buffer = b""

    def _read(self, n: int) -> bytes:
        data = self.proc.stdout.read(n)
        if len(data) != n:
            raise ToolFailed(f"verilator board harness stopped (exit status {self.proc.poll()})")
        return data

    def write(self, data: bytes) -> None:
        data = bytes(data)
        self.proc.stdin.write(b"W" + struct.pack("<I", len(data)) + data)

    def read_until(self, terminator: int | None, max_cycles: int) -> bytes:
        term = _NO_TERMINATOR if terminator is None else int(terminator)
        self.proc.stdin.write(b"R" + struct.pack("<HQ", term, max(0, int(max_cycles))))
        self.proc.stdin.flush()
        self.cycles, self.framing_errors, n = struct.unpack("<QII", self._read(16))
        return self._read(n) if n else b""

    def run(self, cycles: int) -> None:
        self.proc.stdin.write(b"C" + struct.pack("<Q", int(cycles)))
        self.proc.stdin.flush()
        self.cycles, = struct.unpack("<Q", self._read(8))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"Q")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait()
