"""Atomic file writes: readers (and a crash or Ctrl-C) see the old file or the new one, never half.

A write goes into a fresh temporary file in the target's folder and is renamed over the target only
when the target is a regular file or missing: a directory, a device node (``-o /dev/null``), a FIFO or
a socket is refused with :class:`~zoforge.errors.OutputError`, and so is a symlink unless the caller
passes ``follow_symlinks=True`` (then the file the link points to is replaced, the link stays).
"""

from __future__ import annotations

import os
import pathlib
import stat
import tempfile
from collections.abc import Iterable

from .errors import OutputError, shown

__all__ = ["write_bytes", "write_chunks", "write_text", "make_dir", "check_target"]


def write_bytes(path: str | os.PathLike, data: bytes, *, follow_symlinks: bool = False) -> None:
    write_chunks(path, (data,), follow_symlinks=follow_symlinks)


def write_text(path: str | os.PathLike, text: str, *, follow_symlinks: bool = False) -> None:
    write_bytes(path, text.encode(), follow_symlinks=follow_symlinks)


def make_dir(path: str | os.PathLike) -> pathlib.Path:
    """Create the folder ``path`` (and its parents); OutputError if a part of it is not a folder."""
    path = pathlib.Path(path)
    if str(path) in ("", "."):
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), path)
        raise OutputError(f"{shown(str(blocker))} exists and is not a folder; cannot create "
                          f"{shown(str(path))}") from None
    except OSError as e:
        raise OutputError(f"{shown(str(path))}: cannot create the folder ({e.strerror})") from None
    return path


def check_target(path: str | os.PathLike, *, follow_symlinks: bool = False) -> pathlib.Path:
    """The path to replace: ``path`` itself if it is a regular file or missing (its link target with
    ``follow_symlinks``); OutputError for anything else."""
    path = pathlib.Path(path)
    if str(path) in ("", "."):
        raise OutputError(f"output path {shown(str(path))} is empty; give a file name")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as e:
        raise OutputError(f"{shown(str(path))}: cannot check the output path ({e.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        if not follow_symlinks:
            raise OutputError(f"{shown(str(path))} is a symlink; not replaced (give the file it points to)")
        return check_target(os.path.realpath(path))
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{shown(str(path))} is a folder; give a file name for this output")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{shown(str(path))} is a device, FIFO or socket, not a regular file; not replaced")
    return path


def write_chunks(path: str | os.PathLike, chunks: Iterable, *, follow_symlinks: bool = False) -> None:
    """Write the bytes-like ``chunks`` one after another, atomically. A large file (a checkpoint) is
    streamed piece by piece instead of being assembled in memory first."""
    path = check_target(path, follow_symlinks=follow_symlinks)
    make_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())      # mkstemp makes 0600; give the mode a plain open() would
        check_target(path)                    # still a regular file or missing (checked again, just before)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
