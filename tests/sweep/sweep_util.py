"""Running ``zoforge sweep`` in a child process, as a user does (its own Ray, its own caches)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

try:
    import ray  # noqa: F401
    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed; pip install 'zoforge[sweep]'")


def sweep_env(tmp_path) -> dict:
    """The repo's code first, fresh tool caches (so that synthesis really runs), one BLAS thread."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "AMARANTH_USE_YOSYS": "builtin", "ZOFORGE_CACHE_DIR": str(tmp_path / "tools"),
            "OPENBLAS_NUM_THREADS": "1"}


def sweep_command(*argv) -> list[str]:
    return [sys.executable, "-m", "zoforge", "sweep", *map(str, argv)]


def run_sweep(tmp_path, *argv, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run(sweep_command(*argv), env=sweep_env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)
