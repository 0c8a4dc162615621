"""One writer per run folder: an OS lock (``flock``) on ``FOLDER/.lock``, held while the run writes.

The lock goes with the process (exit, crash or kill), so a stale lock file never blocks a new run; the
file only records the holder's pid for the error line.
"""

from __future__ import annotations

import fcntl
import os
import pathlib

from . import atomic
from .errors import UsageError, shown

__all__ = ["FolderLock", "FolderLocked", "lock_folder"]

LOCK = ".lock"


class FolderLocked(UsageError):
    """Another process holds the folder's lock."""


class FolderLock:
    def __init__(self, folder: pathlib.Path, file):
        self.folder, self._file = folder, file

    def release(self) -> None:
        if self._file is not None:
            self._file.close()                      # closing the descriptor drops the flock
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def lock_folder(folder: str | os.PathLike) -> FolderLock:
    """Create ``folder`` if needed and lock it; FolderLocked in one line if another process has it."""
    folder = atomic.make_dir(folder)
    f = open(folder / LOCK, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip()[:20]
        f.close()
        raise FolderLocked(f"{shown(str(folder))} is in use by another zoforge run"
                           f"{f' (pid {holder})' if holder else ''}; wait for it or choose another folder") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return FolderLock(folder, f)
