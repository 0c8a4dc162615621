"""Results cached per measurement, so that an interrupted sweep resumes and two sweeps share work.

A measurement (a *job*: one axis of one spec, for one family or one training seed) is keyed by the
SHA-256 of its canonical description (axis, canonical spec, family or task, seed, steps, training
hyper-parameters) and of the version of the code that measures it: zoforge's version plus a hash of
the source files on that axis's path (:data:`CODE_PATHS`). Editing the gateware invalidates the
synthesis and power results, editing the host the training results, and nothing else.

Each result is one JSON file, ``DIR/ab/abcdef....json``, written atomically: a killed sweep leaves
whole files or none. Failed measurements are not cached (a rerun tries them again).

Members
-------
CODE_PATHS, code_version(axis), job_key(job), Cache(dir): get(key), put(key, job, result), __len__
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import pathlib

from .. import atomic

__all__ = ["CODE_PATHS", "code_version", "job_key", "Cache"]

_ROOT = pathlib.Path(__file__).resolve().parents[1]
#: axis -> the package parts whose source decides its figures (relative to the zoforge package)
CODE_PATHS = {
    "synth": ("golden", "gen", "synth", "sweep/measure.py"),
    "rng_synth": ("golden", "gen", "synth", "sweep/measure.py"),
    "activity": ("golden", "gen", "sim/activity.py", "sim/rng_power.py", "sweep/measure.py"),
    "quality": ("golden", "host", "sweep/quality.py", "sweep/measure.py"),
}


@functools.cache
def code_version(axis: str) -> str:
    """zoforge's version and a hash of the sources on ``axis``'s path."""
    try:
        version = importlib.metadata.version("zoforge")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    h = hashlib.sha256()
    for part in CODE_PATHS[axis]:
        path = _ROOT / part
        files = sorted(path.rglob("*.py")) + sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(_ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return f"{version}+{h.hexdigest()[:16]}"


def job_key(job: dict) -> str:
    text = json.dumps({"job": job, "code": code_version(job["axis"])}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Cache:
    def __init__(self, folder):
        self.folder = pathlib.Path(folder)

    def _path(self, key: str) -> pathlib.Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text())["result"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, job: dict, result: dict) -> None:
        if result.get("status") != "ok":
            return
        atomic.write_text(self._path(key), json.dumps({"job": job, "result": result}, sort_keys=True))

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("??/*.json"))
