"""Progress of long commands, drawn by ``tqdm``: the one progress library of zoforge.

:class:`Progress` is the training bar (step, loss, steps per second, time left). On a terminal tqdm
redraws it in place; otherwise (logs, CI) it is printed as a line about every 5 % of the run.
:func:`spinner` is the bar of a stage without a known length (a board build step): elapsed time, redrawn
on a terminal, a line every ``every`` seconds elsewhere.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

from tqdm import tqdm

__all__ = ["Progress", "spinner"]

_NEVER = float("inf")      # tqdm's delay: it never draws by itself (we print lines for logs)


def _is_tty(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


class Progress:
    def __init__(self, total: int, start: int = 0, *, enabled: bool = True, label: str = "", stream=None):
        self.enabled, self.stream = enabled, stream or sys.stderr
        self.tty = enabled and _is_tty(self.stream)
        self.total, self.start = total, start
        self.every = max(1, (total - start) // 20)
        self.bar = tqdm(total=total, initial=start, desc=label.strip() or None, unit="step", file=self.stream,
                        disable=not enabled, dynamic_ncols=True, delay=0 if self.tty else _NEVER)

    def update(self, step: int, loss: float, extra: str = "") -> None:
        if not self.enabled:
            return
        self.bar.set_postfix_str(f"loss {loss:.4f}" + (f"  {extra}" if extra else ""), refresh=False)
        self.bar.update(step - self.bar.n)
        if not self.tty and ((step - self.start) % self.every == 0 or step == self.total):
            self.stream.write(f"{self.bar}\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line that stays (eval results), without breaking the bar."""
        if not self.enabled:
            return
        if self.tty:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        self.bar.close()


@contextmanager
def spinner(label: str, *, every: float = 30.0, say=None, stream=None, enabled: bool = True):
    """Shows that ``label`` is running until the block ends: on a terminal a live elapsed-time bar,
    elsewhere a line ``<label> running for N s`` every ``every`` seconds, given to ``say`` (default: written
    to the stream)."""
    stream = stream or sys.stderr
    if not enabled:
        yield
        return
    tty = _is_tty(stream)
    say = say or (lambda line: (stream.write(line + "\n"), stream.flush()))
    bar = tqdm(desc=label, file=stream, bar_format="{desc} {elapsed}", leave=False, delay=0 if tty else _NEVER)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0 if tty else every):
            if tty:
                bar.refresh()
            else:
                say(f"{label} running for {bar.format_dict['elapsed']:.0f} s")

    thread = threading.Thread(target=tick, name="zoforge-spinner", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()
