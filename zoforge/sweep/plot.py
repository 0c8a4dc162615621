"""``pareto.png``: every point of a sweep per family, the Pareto front highlighted, the baselines marked."""

from __future__ import annotations

import io

from .. import atomic
from .pareto import LABELS, front, objectives, short, values

__all__ = ["plot_pareto"]


def plot_pareto(rows: list[dict], plan, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = objectives(plan)
    fams = plan.families
    fig, axes = plt.subplots(1, len(fams), figsize=(6.5 * len(fams), 5), squeeze=False)
    points = [r for r in rows if "point" in r["role"]]
    for ax, fam in zip(axes[0], fams):
        scored = [(r, v) for r, v in ((r, values(r, fam, names)) for r in points) if v is not None]
        ys = [v[1] if len(v) > 1 else 0.0 for _, v in scored]
        xs = [v[0] for _, v in scored]
        best = sorted(front([v for _, v in scored]), key=lambda i: scored[i][1])
        ax.scatter(xs, ys, s=28, color="0.6", label="points", zorder=2)
        if plan.quality:
            for (r, v), y in zip(scored, ys):
                ax.errorbar(v[0], y, yerr=r["quality"]["se"], color="0.6", lw=0.8, zorder=1)
        for i, (r, _) in enumerate(scored):
            on = i in best
            ax.annotate(short(r["spec"]), (xs[i], ys[i]), fontsize=7, xytext=(4, 4), textcoords="offset points",
                        color="k" if on else "0.45")
        if best:
            ax.plot([xs[i] for i in best], [ys[i] for i in best], "o-", color="tab:red", ms=7, lw=1.5,
                    label="Pareto front", zorder=3)
        ax.axvline(1.0, color="k", ls="--", lw=0.8, label="CLT-4 Gaussian (ratio 1)")
        if plan.quality:
            seen = list(ys)
            for name, style in (("mezo", "-."), ("adamw", ":")):
                q = next((r.get("quality") for r in rows if r["spec"] == name), None)
                if not q:
                    continue
                label = f"{'MeZO' if name == 'mezo' else 'AdamW'} final loss {q['mean']:.3f}"
                # AdamW usually ends far below every ZO run; keep the axis on the ZO runs and say so.
                if name == "adamw" and seen and q["mean"] < min(seen) - 0.5 * (max(seen) - min(seen) + 0.2):
                    ax.plot([], [], color="tab:blue", ls=style, lw=1, label=label + " (below the axis)")
                    continue
                ax.axhline(q["mean"], color="tab:blue", ls=style, lw=1, label=label)
                seen.append(q["mean"])
        ax.set_xlabel(f"{LABELS['lut']} vs CLT-4 ({fam})")
        ax.set_ylabel({"loss": "final eval loss (mean ± s.e. over seeds)", "power": LABELS["power"]}.get(names[-1], ""))
        ax.set_title(f"{fam}: {len(scored)} points, {len(best)} on the front")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())
