"""What every benchmark script shares: the command line it records, and writing its results file."""

from __future__ import annotations

import pathlib
import shlex
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from zoforge import atomic  # noqa: E402


def command(script: str, argv=None) -> str:
    """The command line as typed from the repository root (the interpreter path kept if it is local)."""
    exe = pathlib.Path(sys.executable)
    try:
        exe_text = str(exe.relative_to(pathlib.Path.cwd()))
    except ValueError:
        exe_text = "python"
    return shlex.join([exe_text, f"benchmarks/{script}", *(sys.argv[1:] if argv is None else argv)])


def write_report(path, lines: list[str]) -> str:
    """Write the markdown results atomically, echo them, and return the text."""
    text = "\n".join(lines) + "\n"
    atomic.write_text(pathlib.Path(path), text)
    print(text)
    return text
