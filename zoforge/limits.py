"""Memory a job needs, estimated before allocating: a job that cannot fit is refused in one line
with the number, instead of failing inside numpy (or being killed) later."""

from __future__ import annotations

import os

from .errors import UsageError

__all__ = ["available_memory", "check_memory", "human_bytes"]


def available_memory() -> int:
    """Bytes the process can still allocate: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62                       # unknown: let the allocation decide


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def check_memory(nbytes: int, what: str) -> None:
    """UsageError naming ``what`` and the bytes it needs if they exceed the memory available."""
    have = available_memory()
    if nbytes > have:
        raise UsageError(f"{what} needs about {human_bytes(nbytes)} of memory ({nbytes:,} bytes); "
                         f"{human_bytes(have)} is available")
