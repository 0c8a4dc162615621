"""Pareto front, short spec names, quality statistics and verdicts, rows assembled from job results."""

import math

import pytest

from zoforge.golden.spec import parse
from zoforge.sweep.grid import make_plan, points
from zoforge.sweep.pareto import front, pareto_markdown, short
from zoforge.sweep.results import assemble, stats, verdict
from zoforge.sweep.run import clt4, plan_jobs


def test_front_keeps_exactly_the_non_dominated_points():
    items = [(0.3, 2.0), (0.5, 1.5), (0.4, 2.5), (1.0, 1.4), (0.3, 2.1), (0.5, 1.5)]
    assert front(items) == [0, 1, 3, 5]            # (0.4, 2.5) and (0.3, 2.1) are dominated; ties both stay
    assert front([(1.0,), (0.5,), (0.7,)]) == [1]
    assert front([]) == []


def test_short_spells_a_spec_with_only_what_makes_it_differ():
    assert short(str(parse("pezo:reuse=none,lanes=8,bits=16,scale=sqrt3"))) == "pezo:reuse=none,scale=sqrt3"
    assert short(str(parse("pezo:reuse=pool,lanes=2,bits=8"))) == "pezo:lanes=2,bits=8"      # gens follows lanes
    assert short(str(parse("pezo"))) == "pezo"
    assert short("pezo:refresh=1") == "pezo:refresh=1"                                        # invalid: as given


def test_stats_and_verdict_against_mezo():
    s = stats([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["sd"] == 1.0 and s["se"] == pytest.approx(1 / math.sqrt(3)) and s["n"] == 3
    mezo = stats([2.0, 2.0, 2.0])
    assert verdict(s, mezo) == {"diff": 0.0, "se": pytest.approx(1 / math.sqrt(3)), "verdict": "holds"}
    assert verdict(stats([3.0, 3.1, 3.2]), mezo)["verdict"] == "worse"
    assert verdict(stats([1.0]), stats([1.5]))["verdict"] == "holds"             # one seed: better than MeZO


def test_clt4_baseline_matches_lanes_and_bits():
    assert clt4(str(parse("pezo:lanes=2,bits=8"))) == str(parse("gaussian:method=clt,n=4,lanes=2,bits=8"))
    assert clt4(str(parse("pezo:lanes=2,bits=4"))) is None                       # no Gaussian that narrow


def _fake_results(jobs):
    """Job results shaped as :func:`zoforge.sweep.measure.measure` returns them (no tool runs here)."""
    out = []
    for j in jobs:
        gauss = j["spec"] and j["spec"].startswith("gaussian")
        if j["axis"] == "synth":
            lut = 100 if gauss else (30 if "none" in j["spec"] else 60)
            out.append({"status": "ok", "lut": lut, "ff": lut // 2, "dsp": 0, "bram": 0, "seconds": 1})
        elif j["axis"] == "rng_synth":
            out.append({"status": "ok", "lut": 120 if gauss else 50, "ff": 40, "dsp": 0, "bram": 0, "seconds": 1})
        elif j["axis"] == "activity":
            q = {"toggles": 10.0, "alpha": 0.5 if gauss else 0.1, "memory": 0.0, "cycles": 100}
            out.append({"status": "ok", "activity": {}, "seed_every": 1, "query": q, "seconds": 1})
        elif j["spec"] and "none" in j["spec"]:
            out.append({"status": "failed", "reason": "stopped at step 2: loss is nan", "seconds": 1})
        else:
            loss = {"mezo": 2.0, "adamw": 1.0}.get(j["optimizer"], 2.5) + 0.01 * j["seed"]
            out.append({"status": "ok", "final_loss": loss, "final_accuracy": 0.5, "start_loss": 3.0,
                        "curve": [[0, 3.0], [2, loss]], "seconds": 1})
    return out


def test_rows_ratios_quality_and_failures_from_job_results():
    plan = make_plan(points(["pezo:reuse=pool,pool=16,lanes=2,bits=8", "pezo:reuse=none,lanes=2,bits=8",
                             "pezo:pool=3,lanes=2"]), families=["ecp5"], seeds=2, steps=2)
    jobs = plan_jobs(plan)
    rows = {r["spec"]: r for r in assemble(plan, jobs, _fake_results(jobs))}
    pool, none = (str(parse(t)) for t in ("pezo:reuse=pool,pool=16,lanes=2,bits=8", "pezo:reuse=none,lanes=2,bits=8"))
    gauss = clt4(pool)
    assert set(rows) == {pool, none, "pezo:pool=3,lanes=2", gauss, "mezo", "adamw"}
    assert rows[pool]["ratios"]["ecp5"] == {"lut": 0.6, "ff": 0.6, "power": pytest.approx(0.1 * 90 / (0.5 * 160))}
    assert rows[gauss]["role"] == "baseline" and rows[gauss]["ratios"]["ecp5"]["lut"] == 1.0
    q = rows[pool]["quality"]
    assert q["losses"] == [2.5, 2.51] and q["vs_mezo"]["verdict"] == "worse"
    assert rows[pool]["status"] == "ok"
    assert rows[none]["status"] == "failed" and "quality" not in rows[none]
    assert rows[none]["reasons"] == ["quality seed 0: stopped at step 2: loss is nan",
                                     "quality seed 1: stopped at step 2: loss is nan"]
    assert rows["pezo:pool=3,lanes=2"]["status"] == "failed"
    assert rows["pezo:pool=3,lanes=2"]["reasons"][0].startswith("spec: pezo: pool=3 is not a multiple of lanes=2")
    md = "\n".join(pareto_markdown(list(rows.values()), plan))
    front_table = md.split("## ecp5: non-dominated points")[1].split("## All points")[0]
    assert "`pezo:pool=16,lanes=2,bits=8`" in front_table and "reuse=none" not in front_table
    assert "## Failed points" in md and "loss is nan" in md
