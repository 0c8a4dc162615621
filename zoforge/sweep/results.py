"""From job results to one row per point: figures, ratios against CLT-4, quality against MeZO.

Row (one line of ``results.jsonl``)::

    spec, text, role (point | baseline | point+baseline), status (ok | failed), reasons [one line each],
    baseline (the CLT-4 spec),
    synth   {family: {lut, ff, carry, dsp, bram, lutram, [fmax_mhz]}},
    power   {seed_every, cycles_per_query, alpha, toggles, activity {...}, family: {proxy, lut, ff, dsp, bram}},
    ratios  {family: {lut, ff, power}}                     (point / CLT-4, same family)
    quality {task, steps, seeds, losses, mean, sd, se, accuracy, start_loss, curve,
             vs_mezo {diff, se, verdict}}                   (verdict: holds = diff <= 2 s.e., else worse)

MeZO and AdamW have rows of their own (role baseline, quality only). A failed job leaves its figure
out and adds ``"axis family: reason"`` to ``reasons``; the row's status is then ``failed``.

Members
-------
stats(values), verdict(point, mezo), assemble(plan, jobs, results), write_outputs(rows, plan, out, seconds)
"""

from __future__ import annotations

import json
import math
import pathlib
import statistics

from .. import atomic
from .run import clt4

__all__ = ["stats", "verdict", "assemble", "write_outputs"]


def stats(values: list[float]) -> dict:
    """mean, sample sd and standard error of the mean."""
    n = len(values)
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if n > 1 else 0.0
    return {"mean": mean, "sd": sd, "se": sd / math.sqrt(n), "n": n}


def verdict(point: dict, mezo: dict) -> dict:
    """Difference to MeZO's mean loss; holds if at most two standard errors of the difference above."""
    diff = point["mean"] - mezo["mean"]
    se = math.sqrt(point["se"] ** 2 + mezo["se"] ** 2)
    return {"diff": diff, "se": se, "verdict": "holds" if diff <= 2 * se else "worse"}


def _where(job: dict) -> str:
    return job.get("family") or (f"seed {job['seed']}" if job["axis"] == "quality" else "")


def _quality(runs: list[tuple[dict, dict]], plan) -> dict | None:
    ok = [r for _, r in runs if r and r["status"] == "ok"]
    if not ok:
        return None
    losses = [r["final_loss"] for r in ok]
    acc = [r["final_accuracy"] for r in ok if r.get("final_accuracy") is not None]
    curve = [[step, statistics.fmean(r["curve"][i][1] for r in ok)] for i, (step, _) in enumerate(ok[0]["curve"])]
    return {"task": plan.task, "model": plan.model, "steps": plan.steps,
            "seeds": [j["seed"] for j, r in runs if r and r["status"] == "ok"], "losses": losses, **stats(losses),
            "accuracy": statistics.fmean(acc) if acc else None, "start_loss": ok[0]["start_loss"], "curve": curve}


def assemble(plan, jobs: list[dict], results: list[dict | None]) -> list[dict]:
    by_spec: dict[str, list] = {}
    for job, res in zip(jobs, results):
        key = job["spec"] if job["spec"] is not None else job["optimizer"]
        by_spec.setdefault(key, []).append((job, res))
    valid = [p.spec for p in plan.points if p.spec]
    baselines = {s: clt4(s) for s in valid}
    rows: dict[str, dict] = {}

    def row(spec: str, text: str, role: str) -> dict:
        if spec in rows:
            if role not in rows[spec]["role"]:
                rows[spec]["role"] += "+" + role
            return rows[spec]
        rows[spec] = {"spec": spec, "text": text, "role": role, "status": "ok", "reasons": []}
        return rows[spec]

    for p in plan.points:
        r = row(p.name, p.text, "point")
        if p.error:
            r["status"], r["reasons"] = "failed", [f"spec: {p.error}"]
        else:
            r["baseline"] = baselines[p.spec]
            if r["baseline"] is None:
                r["reasons"].append("baseline: no CLT-4 Gaussian at this width")
    for s in {b for b in baselines.values() if b}:
        row(s, s, "baseline")["baseline"] = s
    if plan.quality:
        for opt in ("mezo", "adamw"):
            row(opt, opt, "baseline")

    for spec, r in rows.items():
        runs = by_spec.get(spec, [])
        for job, res in runs:
            if res is None or res["status"] != "ok":
                reason = res["reason"] if res else "not run"
                r["reasons"].append(f"{job['axis']} {_where(job)}: {reason}".replace("  ", " "))
        synth = {j["family"]: {k: v for k, v in res.items() if k not in ("status", "seconds", "fallback")}
                 for j, res in runs if j["axis"] == "synth" and res and res["status"] == "ok"}
        if synth:
            r["synth"] = synth
        act = next((res for j, res in runs if j["axis"] == "activity" and res and res["status"] == "ok"), None)
        cells = {j["family"]: res for j, res in runs if j["axis"] == "rng_synth" and res and res["status"] == "ok"}
        if act:
            q = act["query"]
            r["power"] = {"seed_every": act["seed_every"], "cycles_per_query": q["cycles"], "alpha": q["alpha"],
                          "toggles": q["toggles"], "memory": q["memory"], "activity": act["activity"]}
            for fam, c in cells.items():
                r["power"][fam] = {"proxy": q["alpha"] * (c["lut"] + c["ff"]), "lut": c["lut"], "ff": c["ff"],
                                   "dsp": c["dsp"], "bram": c["bram"]}
        q_runs = [(j, res) for j, res in runs if j["axis"] == "quality"]
        if q_runs:
            quality = _quality(q_runs, plan)
            if quality:
                r["quality"] = quality
        if r["reasons"] and r["status"] == "ok" and any(not x.startswith("baseline:") for x in r["reasons"]):
            r["status"] = "failed"

    mezo = rows.get("mezo", {}).get("quality")
    for r in rows.values():
        base = rows.get(r.get("baseline") or "")
        if base:
            r["ratios"] = {}
            for fam in plan.families:
                ratio = {}
                a, b = r.get("synth", {}).get(fam), base.get("synth", {}).get(fam)
                if a and b:
                    ratio["lut"] = a["lut"] / b["lut"] if b["lut"] else None
                    ratio["ff"] = a["ff"] / b["ff"] if b["ff"] else None
                pa, pb = r.get("power", {}).get(fam), base.get("power", {}).get(fam)
                if pa and pb and pb["proxy"]:
                    ratio["power"] = pa["proxy"] / pb["proxy"]
                r["ratios"][fam] = ratio
        if mezo and r.get("quality") and r["spec"] != "mezo":
            r["quality"]["vs_mezo"] = verdict(r["quality"], mezo)
    return list(rows.values())


def write_outputs(rows: list[dict], plan, out, *, seconds: float | None = None) -> None:
    from .pareto import pareto_markdown
    from .plot import plot_pareto
    out = pathlib.Path(out)
    atomic.write_text(out / "results.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    atomic.write_text(out / "pareto.md", "\n".join(pareto_markdown(rows, plan, seconds)) + "\n")
    plot_pareto(rows, plan, out / "pareto.png")
