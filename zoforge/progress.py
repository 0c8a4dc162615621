"""A one-line progress bar: step, loss, iterations per second, time left. On a terminal it redraws in
place; otherwise (logs, CI) it prints a line about every 5 % of the run."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, start: int = 0, *, enabled: bool = True, label: str = "", stream=None):
        self.total, self.start, self.enabled, self.label = total, start, enabled, label
        self.stream = stream or sys.stderr
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.every = max(1, (total - start) // 20)
        self._dirty = False

    def update(self, step: int, loss: float, extra: str = "") -> None:
        if not self.enabled:
            return
        done = step - self.start
        elapsed = time.perf_counter() - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - step) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * step / max(1, self.total))
        bar = "#" * filled + "-" * (width - filled)
        text = (f"{self.label}[{bar}] {step}/{self.total} loss {loss:.4f} {rate:.2f} it/s "
                f"{_clock(elapsed)}<{_clock(left)}{'  ' + extra if extra else ''}")
        if self.tty:
            self.stream.write("\r" + text + "\033[K")
            self.stream.flush()
            self._dirty = True
        elif done % self.every == 0 or step == self.total:
            self.stream.write(text + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line that stays (eval results), without breaking the bar."""
        if not self.enabled:
            return
        if self._dirty:
            self.stream.write("\n")
            self._dirty = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._dirty:
            self.stream.write("\n")
            self.stream.flush()
            self._dirty = False
