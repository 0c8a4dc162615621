"""Training checkpoints: a directory per saved step, verified before it counts, and a pointer to the newest.

    RUN/checkpoints/step-00000120/   model.safetensors + config.json   (Hugging Face layout: loadable
                                     by ``--init``, ``zoforge eval``/``sample`` and transformers)
                                     vocab.json + merges.txt           (the GPT-2 BPE files the run was
                                                                        trained with; none for bytes)
                                     optimizer.safetensors             (AdamW's m and v; absent for ZO)
                                     state.json                        (run id, step, options, optimizer
                                                                        state, seeds, stream and data position)
                                     manifest.json                     (run id, step, SHA-256 and size per file)
    RUN/checkpoints/latest           the name of the newest complete checkpoint directory

A save writes a hidden ``.partial-step-...`` folder, re-reads and verifies it (hashes, state schema,
the weights equal to the ones in memory), and only then renames it to ``step-...`` and moves ``latest``;
so a crash, a kill or a failed write leaves the previous checkpoint in charge, and a partial folder is
never loaded (the next run removes it). Non-finite weights are never saved. The newest ``keep``
checkpoints stay. Every load checks the manifest: a flipped bit, a file from another run or an edited
``state.json`` is refused in one line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import shutil
import tempfile

import numpy as np

from .. import atomic
from .checkpoint import CheckpointError, load_hf, save_hf
from .safetensors_io import SafetensorsError, iter_dump, read_header, to_float32

__all__ = ["FORMAT", "save_checkpoint", "latest_checkpoint", "load_checkpoint", "check_state", "any_checkpoint",
           "clean_partial", "NonFiniteWeights", "CHECKPOINTS", "MANIFEST"]

FORMAT, VERSION = "zoforge-train", 2
CHECKPOINTS, LATEST = "checkpoints", "latest"
STATE, OPTIMIZER, MANIFEST = "state.json", "optimizer.safetensors", "manifest.json"
PARTIAL = ".partial-"
_STEP = re.compile(r"step-(\d{8,})")


class NonFiniteWeights(CheckpointError):
    """The weights (or optimizer state) hold NaN or inf: such a checkpoint is never written."""


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(folder: pathlib.Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run: str | os.PathLike, step: int, config, params, state: dict,
                    arrays: dict[str, np.ndarray], keep: int = 2,
                    files: dict[str, os.PathLike] | None = None) -> pathlib.Path:
    """Write, verify and publish the checkpoint of ``step``; ``state`` must carry the run id ("run").
    ``files``: name in the checkpoint -> file to copy in (the tokenizer's), listed in the manifest."""
    if not np.isfinite(params.data).all() or not all(np.isfinite(a).all() for a in arrays.values()):
        raise NonFiniteWeights(f"non-finite weights (NaN or inf) at step {step}: not saved")
    root = atomic.make_dir(pathlib.Path(run) / CHECKPOINTS)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{PARTIAL}step-{step:08d}-", dir=root))
    final = root / f"step-{step:08d}"
    try:
        save_hf(tmp, config, params)
        for name, source in (files or {}).items():
            atomic.write_bytes(tmp / name, pathlib.Path(source).read_bytes())
        if arrays:
            atomic.write_chunks(tmp / OPTIMIZER, iter_dump(arrays, metadata={"format": FORMAT}))
        state = {"format": FORMAT, "version": VERSION, **state, "step": step}
        atomic.write_text(tmp / STATE, json.dumps(state, indent=1) + "\n")
        files = {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in sorted(tmp.iterdir())}
        manifest = {"format": FORMAT, "version": VERSION, "run": state["run"], "step": step, "files": files}
        atomic.write_text(tmp / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        _, loaded, _, _ = load_checkpoint(tmp)                    # what a resume would read
        if not np.array_equal(loaded.data, params.data):
            raise CheckpointError(f"{tmp / 'model.safetensors'}: reads back different weights; not saved")
        if final.exists():                  # the same step saved before (not the one in charge after this)
            shutil.rmtree(final.rename(root / f"{PARTIAL}old-{final.name}-{os.getpid()}"), ignore_errors=True)
        tmp.rename(final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic.write_text(root / LATEST, final.name + "\n")
    for old in _complete(root)[:-max(1, keep)]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _complete(root: pathlib.Path) -> list[pathlib.Path]:
    """Published checkpoint folders (a manifest present), oldest first."""
    return sorted(p for p in root.glob("step-*") if _STEP.fullmatch(p.name) and (p / MANIFEST).is_file())


def latest_checkpoint(run: str | os.PathLike) -> pathlib.Path | None:
    """The folder ``latest`` names, or (pointer missing or dangling) the newest published one."""
    root = pathlib.Path(run) / CHECKPOINTS
    try:
        name = (root / LATEST).read_text().strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    if _STEP.fullmatch(name) and (root / name / MANIFEST).is_file():
        return root / name
    complete = _complete(root) if root.is_dir() else []
    return complete[-1] if complete else None


def any_checkpoint(run: str | os.PathLike) -> list[str]:
    """Names of everything checkpoint-like in ``run`` (pointer, step folders complete or not)."""
    root = pathlib.Path(run) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.name == LATEST or p.name.startswith("step-"))


def clean_partial(run: str | os.PathLike) -> list[str]:
    """Remove half-written checkpoint folders a killed save left (call with the run's lock held)."""
    root = pathlib.Path(run) / CHECKPOINTS
    gone = sorted(p.name for p in root.glob(f"{PARTIAL}*")) if root.is_dir() else []
    for name in gone:
        shutil.rmtree(root / name, ignore_errors=True)
    return gone


def _read_json(path: pathlib.Path, what: str) -> dict:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; not a complete checkpoint") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable {what} ({e})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: not a JSON object")
    return raw


def _verify_manifest(folder: pathlib.Path) -> dict:
    manifest = _read_json(folder / MANIFEST, "checkpoint manifest")
    files = manifest.get("files")
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION or not isinstance(files, dict):
        raise CheckpointError(f"{folder / MANIFEST}: not a {FORMAT} version {VERSION} manifest")
    for needed in ("model.safetensors", "config.json", STATE):
        if needed not in files:
            raise CheckpointError(f"{folder / MANIFEST}: does not list {needed}")
    for name, entry in files.items():
        path = folder / str(name)
        if "/" in str(name) or not isinstance(entry, dict):
            raise CheckpointError(f"{folder / MANIFEST}: malformed entry {str(name)[:60]!r}")
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (listed in {MANIFEST})")
        if path.stat().st_size != entry.get("bytes") or _sha256(path) != entry.get("sha256"):
            raise CheckpointError(f"{path}: size or SHA-256 differs from {MANIFEST} (damaged, edited or from "
                                  "another run); not loaded")
    return manifest


def check_state(state, path: pathlib.Path, step: int | None = None) -> dict:
    """The schema of ``state.json``: types and ranges of what a resume reads."""
    from .options import OptionError, TrainOptions

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise CheckpointError(f"{path}: {what}")
    need(isinstance(state, dict), "not a JSON object")
    need(state.get("format") == FORMAT and state.get("version") == VERSION,
         f"format {str(state.get('format'))[:40]!r} version {str(state.get('version'))[:10]} is not {FORMAT!r} "
         f"version {VERSION}")
    need(isinstance(state.get("run"), str) and 0 < len(state["run"]) <= 64, "run id missing or not a string")
    value = state.get("step")
    need(isinstance(value, int) and not isinstance(value, bool) and value >= 0, "step is not an integer >= 0")
    need(step is None or value == step, f"step {value} is not the checkpoint's step {step}")
    options = state.get("options")
    need(isinstance(options, dict), "options is not a JSON object")
    try:
        opts = TrainOptions.from_dict(options).check()
    except (OptionError, TypeError) as e:
        raise CheckpointError(f"{path}: options: {e}") from None
    need(value <= opts.steps, f"step {value} is beyond the run's --steps {opts.steps}")
    optimizer = state.get("optimizer")
    need(isinstance(optimizer, dict) and isinstance(optimizer.get("name"), str) and
         (optimizer["name"] == "adamw") == (opts.optimizer == "adamw"),      # ZO names its z source
         f"optimizer state is not the run's --optimizer {opts.optimizer}")
    return state


def load_checkpoint(folder: str | os.PathLike, *, arrays: bool = True):
    """(config, params, state, arrays) of a verified checkpoint directory; CheckpointError (one line,
    naming the file) if it is not one, is incomplete or was changed after it was written."""
    folder = pathlib.Path(folder)
    manifest = _verify_manifest(folder)
    state = check_state(_read_json(folder / STATE, "training state"), folder / STATE, manifest.get("step"))
    if state["run"] != manifest.get("run"):
        raise CheckpointError(f"{folder / STATE}: run {state['run']!r} is not the manifest's run")
    config, params = load_hf(folder)
    loaded = {}
    if arrays and OPTIMIZER in manifest["files"]:
        try:
            loaded = {k: to_float32(t, f"{folder / OPTIMIZER}: {k}") for k, t in read_header(folder / OPTIMIZER).items()}
        except SafetensorsError as e:
            raise CheckpointError(str(e)) from None
    if state["optimizer"]["name"] == "adamw" and arrays and not loaded:
        raise CheckpointError(f"{folder / OPTIMIZER}: missing (AdamW's moments)")
    return config, params, state, loaded
