"""Loss curves as PNG (matplotlib, Agg backend: no display needed), written atomically."""

from __future__ import annotations

import io
import os

import numpy as np

from .. import atomic

__all__ = ["plot_curves", "smooth"]


def smooth(values, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    n = np.arange(1, len(v) + 1)
    lo = np.maximum(0, n - window)
    return (c[n] - c[lo]) / (n - lo)


def plot_curves(path: str | os.PathLike, train: dict, evals: dict | None = None, *, title: str = "",
                ylabel: str = "loss", extra: dict | None = None) -> None:
    """``train``/``evals``: name -> (steps, values). Train curves are smoothed lines, eval points are
    markers in the same colour. ``extra``: a second panel, name -> (steps, values) (e.g. accuracy)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if extra else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    colours = {}
    for i, (name, (steps, values)) in enumerate(train.items()):
        window = max(1, len(values) // 40)
        line, = ax.plot(steps, smooth(values, window), label=f"{name} (train)", lw=1.4)
        colours[name] = line.get_color()
    for name, (steps, values) in (evals or {}).items():
        ax.plot(steps, values, "o--", color=colours.get(name), ms=4, lw=0.8, label=f"{name} (eval)")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    if extra:
        ax2 = axes[0][1]
        for name, (steps, values) in extra.items():
            ax2.plot(steps, values, "o-", color=colours.get(name), ms=3, label=name)
        ax2.set_xlabel("step")
        ax2.set_ylabel("eval accuracy")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())
