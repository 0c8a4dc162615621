"""Atomic file writes: readers (and a crash or Ctrl-C) see the old file or the new one, never half."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Iterable

__all__ = ["write_bytes", "write_chunks", "write_text"]


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    write_chunks(path, (data,))


def write_chunks(path: str | os.PathLike, chunks: Iterable) -> None:
    """Write the bytes-like ``chunks`` one after another, atomically. A large file (a checkpoint) is
    streamed piece by piece instead of being assembled in memory first."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())      # mkstemp makes 0600; give the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode())
