"""Training checkpoints: a directory per saved step, and an atomically written pointer to the newest.

    RUN/checkpoints/step-00000120/   model.safetensors + config.json   (Hugging Face layout: loadable
                                     by ``--init``, ``zoforge eval``/``sample`` and transformers)
                                     optimizer.safetensors             (AdamW's m and v; absent for ZO)
                                     state.json                        (step, options, optimizer state,
                                                                        seeds, stream position, data position)
    RUN/checkpoints/latest           the name of the newest complete checkpoint directory

A checkpoint is complete before ``latest`` names it (every file is written atomically first), so a crash
or Ctrl-C during a save leaves the previous checkpoint in charge. Older directories are removed after
the pointer moves.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np

from .. import atomic
from .checkpoint import CheckpointError, load_hf, save_hf
from .safetensors_io import SafetensorsError, iter_dump, read_header, to_float32

__all__ = ["FORMAT", "save_checkpoint", "latest_checkpoint", "load_checkpoint", "CHECKPOINTS"]

FORMAT, VERSION = "zoforge-train", 1
CHECKPOINTS, LATEST = "checkpoints", "latest"
STATE, OPTIMIZER = "state.json", "optimizer.safetensors"


def save_checkpoint(run: str | os.PathLike, step: int, config, params, state: dict,
                    arrays: dict[str, np.ndarray], keep: int = 1) -> pathlib.Path:
    root = pathlib.Path(run) / CHECKPOINTS
    folder = root / f"step-{step:08d}"
    if folder.exists():                       # a save that never became "latest" (interrupted)
        shutil.rmtree(folder)
    save_hf(folder, config, params)
    if arrays:
        atomic.write_chunks(folder / OPTIMIZER, iter_dump(arrays, metadata={"format": FORMAT}))
    atomic.write_text(folder / STATE, json.dumps({"format": FORMAT, "version": VERSION, **state}, indent=1) + "\n")
    atomic.write_text(root / LATEST, folder.name + "\n")
    old = sorted(p for p in root.glob("step-*") if p.is_dir() and p != folder)
    for p in old[:max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return folder


def latest_checkpoint(run: str | os.PathLike) -> pathlib.Path | None:
    pointer = pathlib.Path(run) / CHECKPOINTS / LATEST
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    return folder if (folder / STATE).is_file() else None


def load_checkpoint(folder: str | os.PathLike):
    """(config, params, state, arrays) of a checkpoint directory; CheckpointError if it is not one."""
    folder = pathlib.Path(folder)
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{folder / STATE}: not a readable training state ({e})") from None
    if state.get("format") != FORMAT or state.get("version") != VERSION:
        raise CheckpointError(f"{folder / STATE}: format {state.get('format')!r} version {state.get('version')!r} "
                              f"is not {FORMAT!r} version {VERSION}")
    config, params = load_hf(folder)
    arrays = {}
    if (folder / OPTIMIZER).is_file():
        try:
            arrays = {k: to_float32(t, f"{folder / OPTIMIZER}: {k}") for k, t in read_header(folder / OPTIMIZER).items()}
        except SafetensorsError as e:
            raise CheckpointError(str(e)) from None
    return config, params, state, arrays
