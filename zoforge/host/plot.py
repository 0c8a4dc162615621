"""Plots as PNG (matplotlib, Agg backend: no display needed), written atomically: loss curves of a run
(with its evaluations), and the distribution of a block's numbers against N(0, 1)."""

from __future__ import annotations

import io
import os

import numpy as np

from .. import atomic

__all__ = ["plot_curves", "plot_run", "plot_distribution", "smooth"]


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
    plt = _pyplot()
    panels = 2 if extra else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    colours = {}
    for i, (name, (steps, values)) in enumerate(train.items()):
        window = max(1, len(values) // 40)
        line, = ax.plot(steps, smooth(values, window), label=f"{name} (train)", lw=1.4)
        colours[name] = line.get_color()
    for name, (steps, values) in (evals or {}).items():
        line, = ax.plot(steps, values, "o--", color=colours.get(name), ms=4, lw=0.8, label=f"{name} (eval)")
        colours.setdefault(name, line.get_color())
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
    _save(fig, path)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())


def plot_run(path: str | os.PathLike, records: list[dict], name: str, *, title: str = "") -> bool:
    """The loss plot of a run from its metrics records: the train loss (a ZO step's mean of L+ and L-
    where no single loss is logged), every evaluation so far (each eval loss key, e.g. ``loss`` and
    ``test_loss``) and the accuracies beside. False (nothing written) before the first train record."""
    def loss(r):
        if "loss" in r:
            return r["loss"]
        return (r["loss_plus"] + r["loss_minus"]) / 2 if "loss_plus" in r and "loss_minus" in r else None

    train = [(r["step"], loss(r)) for r in records if r.get("kind") == "train"]
    train = [(s, v) for s, v in train if isinstance(v, float) and np.isfinite(v)]
    if not train:
        return False
    evals = [r for r in records if r.get("kind") == "eval"]
    curves, accuracy = {}, {}
    for key in ("loss", "test_loss"):
        points = [(r["step"], r[key]) for r in evals if key in r]
        if points:
            curves[name if key == "loss" else "test"] = tuple(zip(*points))
    for key in ("accuracy", "test_accuracy"):
        points = [(r["step"], r[key]) for r in evals if key in r]
        if points:
            accuracy[name if key == "accuracy" else "test"] = tuple(zip(*points))
    plot_curves(path, {name: tuple(zip(*train))}, curves or None, title=title, extra=accuracy or None)
    return True


def plot_distribution(path: str | os.PathLike, values, *, title: str = "", points: int = 2000):
    """Histogram of the standardized ``values`` over the N(0, 1) density, and a QQ plot of their quantiles
    against N(0, 1)'s (a Gaussian source lies on the diagonal; a uniform one bends flat at the tails).
    Returns the QQ points drawn: (N(0, 1) quantiles, sample quantiles)."""
    from statistics import NormalDist
    plt = _pyplot()
    v = np.asarray(values, dtype=np.float64).ravel()
    sd = v.std()
    z = (v - v.mean()) / (sd if sd > 0 else 1.0)
    normal = NormalDist()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.hist(z, bins=min(200, max(10, int(np.sqrt(len(z))))), density=True, alpha=0.7, label="standardized values")
    grid = np.linspace(-5, 5, 400)
    ax1.plot(grid, [normal.pdf(x) for x in grid], "k--", lw=1, label="N(0, 1)")
    ax1.set_xlabel("z")
    ax1.set_ylabel("density")
    ax1.legend(fontsize=7)
    probs = (np.arange(min(points, len(z))) + 0.5) / min(points, len(z))
    expected = np.array([normal.inv_cdf(p) for p in probs])
    sample = np.quantile(z, probs)
    ax2.plot(expected, sample, ".", ms=2, label="quantiles")
    lim = max(abs(expected).max(), 1.0)
    ax2.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="y = x")
    ax2.set_xlabel("N(0, 1) quantile")
    ax2.set_ylabel("sample quantile (standardized)")
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)
    return expected, sample
