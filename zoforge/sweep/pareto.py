"""The Pareto front of a sweep: points no other point beats on every objective, per family.

Objectives (all minimised): the LUT ratio against CLT-4 and the final loss (mean over seeds). Without
quality figures the second objective is the power-proxy ratio; without either, the LUT ratio alone.

Members
-------
objectives(plan) -> (name, ...)          the objectives this sweep has
values(row, family, names) -> tuple | None
front(items) -> list[int]               indices of the non-dominated items (each a tuple of values)
short(spec) -> str                       the spec's parameters that differ from its kind's defaults
pareto_markdown(rows, plan, seconds) -> list[str]
"""

from __future__ import annotations

__all__ = ["objectives", "values", "front", "short", "pareto_markdown"]

LABELS = {"lut": "LUT ratio", "loss": "final loss", "power": "power ratio"}


def objectives(plan) -> tuple[str, ...]:
    return ("lut", "loss") if plan.quality else ("lut", "power") if plan.power else ("lut",)


def values(row: dict, family: str, names) -> tuple | None:
    """The row's objective values in ``family`` (None if one is missing)."""
    out = []
    for name in names:
        v = row.get("quality", {}).get("mean") if name == "loss" else row.get("ratios", {}).get(family, {}).get(name)
        if v is None:
            return None
        out.append(v)
    return tuple(out)


def front(items: list[tuple]) -> list[int]:
    """Indices of the items that no other item dominates (<= everywhere, < somewhere)."""
    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
    return [i for i, a in enumerate(items) if not any(dominates(b, a) for j, b in enumerate(items) if j != i)]


def short(spec: str) -> str:
    """The shortest spelling of a spec that parses back to it: each parameter whose removal leaves the
    same spec (a default, or a value derived from the others) is dropped, in canonical order."""
    from ..golden.spec import SpecError, parse
    try:
        s = parse(spec)
    except SpecError:
        return spec
    items = str(s).partition(":")[2].split(",")
    for item in list(items):
        rest = [i for i in items if i != item]
        try:
            same = parse(f"{s.KIND}:{','.join(rest)}" if rest else s.KIND) == s
        except SpecError:
            same = False
        if same:
            items = rest
    return f"{s.KIND}:{','.join(items)}" if items else s.KIND


def _fmt(v, digits=2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _quality_cell(row) -> str:
    q = row.get("quality")
    if not q:
        return "-"
    vs = q.get("vs_mezo")
    extra = f", {vs['diff']:+.3f} vs MeZO ({vs['verdict']})" if vs else ""
    return f"{q['mean']:.3f} ± {q['se']:.3f}{extra}"


def _line(row, family) -> str:
    r = row.get("ratios", {}).get(family, {})
    s = row.get("synth", {}).get(family, {})
    p = row.get("power", {}).get(family, {})
    fmax = f" | {_fmt(s.get('fmax_mhz'), 1)}" if "fmax_mhz" in s else ""
    return (f"| `{short(row['spec'])}` | {s.get('lut', '-')} | {s.get('ff', '-')} | {s.get('dsp', '-')} | "
            f"{s.get('bram', '-')} | {_fmt(r.get('lut'))} | {_fmt(r.get('ff'))} | {_fmt(p.get('proxy'), 0)} | "
            f"{_fmt(r.get('power'))} | {_quality_cell(row)} | {row['status']}{fmax} |")


def _header(fmax: bool) -> list[str]:
    extra = " Fmax MHz |" if fmax else ""
    return ["| spec (non-default parameters) | LUT | FF | DSP | BRAM | LUT ratio | FF ratio | power proxy | "
            f"power ratio | final loss ± s.e. | status |{extra}",
            "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if fmax else "")]


def pareto_markdown(rows: list[dict], plan, seconds: float | None = None) -> list[str]:
    names = objectives(plan)
    points = [r for r in rows if "point" in r["role"]]
    lines = ["# Design-space sweep: Pareto front", "",
             f"Objectives (minimised): {' and '.join(LABELS[n] for n in names)}; ratios are against the CLT-4 "
             "Gaussian at the same lanes and bits, synthesized in the same sweep. Power: activity x (LUT + FF) of "
             "the RNG unit per query (a SEED every query for chains without a pool, every `refresh` queries for "
             "a pool; see `zoforge.sim.rng_power`).", ""]
    if plan.quality:
        lines += [f"Quality: task `{plan.task}`, model `{plan.model}`, {plan.steps} steps, seeds 0..{plan.seeds - 1}; "
                  "final eval loss mean ± standard error; *holds* = at most two standard errors (of the difference) "
                  "above MeZO's mean.", ""]
        for name in ("mezo", "adamw"):
            q = next((r.get("quality") for r in rows if r["spec"] == name), None)
            if q:
                lines.append(f"- {name.replace('mezo', 'MeZO').replace('adamw', 'AdamW')}: final loss {q['mean']:.3f}"
                             f" ± {q['se']:.3f} (sd {q['sd']:.3f}, {q['n']} seeds)")
        lines.append("")
    for fam in plan.families:
        scored = [(r, values(r, fam, names)) for r in points]
        scored = [(r, v) for r, v in scored if v is not None]
        best = front([v for _, v in scored])
        lines += [f"## {fam}: non-dominated points", ""]
        if not best:
            lines += ["No point has every objective measured.", ""]
            continue
        lines += _header(plan.fmax)
        lines += [_line(scored[i][0], fam) for i in sorted(best, key=lambda i: scored[i][1])]
        lines.append("")
    lines += ["## All points", ""]
    for fam in plan.families:
        lines += [f"### {fam}", ""] + _header(plan.fmax)
        lines += [_line(r, fam) for r in rows if r["spec"] not in ("mezo", "adamw")]
        lines.append("")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["## Failed points", ""]
        lines += [f"- `{r['spec']}`: " + "; ".join(r["reasons"]) for r in failed]
        lines.append("")
    if seconds is not None:
        lines.append(f"Sweep time {seconds:.0f} s (cached measurements included at no cost).")
    return lines
