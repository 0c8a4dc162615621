"""Text present on every machine: Python's own standard-library sources, for the project's base model.

The selection is deterministic for a given Python installation: ``*.py`` files under
``sysconfig.get_paths()["stdlib"]``, without site-packages, tests, IDLE, the bundled documentation data
(``pydoc_data``) and vendored code, ordered by a hash of their relative path (so no single package
dominates the start of the list) and taken until ``max_bytes``. Another Python version ships other
sources and gives another, equally deterministic, base model.
"""

from __future__ import annotations

import hashlib
import pathlib
import sysconfig

__all__ = ["stdlib_root", "stdlib_files"]

_SKIP = {"site-packages", "dist-packages", "test", "tests", "idlelib", "idle_test", "pydoc_data",
         "lib2to3", "ensurepip", "__pycache__", "turtledemo", "tkinter"}


def stdlib_root() -> pathlib.Path:
    return pathlib.Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(max_bytes: int = 2_000_000, root: pathlib.Path | None = None) -> list[pathlib.Path]:
    root = root or stdlib_root()
    found = []
    for p in root.rglob("*.py"):
        rel = p.relative_to(root)
        if _SKIP.intersection(rel.parts[:-1]) or not p.is_file():
            continue
        found.append((hashlib.sha256(rel.as_posix().encode()).hexdigest(), p))
    out, total = [], 0
    for _, p in sorted(found):
        size = p.stat().st_size
        if total + size > max_bytes:
            continue
        out.append(p)
        total += size
    return out
