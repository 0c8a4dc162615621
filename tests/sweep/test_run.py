"""A tiny sweep on a local Ray, end to end: every axis, baselines, failed points, outputs."""

import json

import pytest

from zoforge.golden.spec import parse
from tests.sweep.sweep_util import needs_ray, run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("yosys"), needs_ray]

SWEEP = """
specs = ["pezo:reuse=pool|none,pool=16,lanes=2,bits=8,scale=sqrt3", "pezo:pool=3,lanes=2", "lfsr:width=8,lanes=2"]
families = ["ecp5"]
seeds = 2
steps = 2
task = "classify"
model = "tiny"
power_words = 16
batch = 4
seq = 48
"""


def test_tiny_sweep_measures_every_axis_and_records_failed_points(tmp_path):
    f = tmp_path / "tiny.toml"
    f.write_text(SWEEP)
    out = tmp_path / "out"
    r = run_sweep(tmp_path, f, "-o", out, "--cpus", "2")
    assert r.returncode == 0, r.stderr
    assert "[1/" in r.stderr and "ETA" in r.stderr
    rows = {row["spec"]: row for row in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    pool = str(parse("pezo:reuse=pool,pool=16,lanes=2,bits=8,scale=sqrt3"))
    none = str(parse("pezo:reuse=none,pool=16,lanes=2,bits=8,scale=sqrt3"))
    gauss = str(parse("gaussian:method=clt,n=4,lanes=2,bits=8"))
    for spec in (pool, none):
        row = rows[spec]
        assert row["status"] == "ok", row["reasons"]
        assert row["baseline"] == gauss and row["synth"]["ecp5"]["lut"] > 0
        assert 0 < row["ratios"]["ecp5"]["lut"] < 1 and 0 < row["ratios"]["ecp5"]["power"] < 1
        assert len(row["quality"]["losses"]) == 2 and row["quality"]["vs_mezo"]["verdict"] in ("holds", "worse")
    assert rows[pool]["power"]["seed_every"] == 0 and rows[none]["power"]["seed_every"] == 1
    assert rows[gauss]["role"] == "baseline" and "quality" not in rows[gauss]
    assert {"mezo", "adamw"} <= set(rows) and rows["adamw"]["quality"]["n"] == 2
    bad = rows["pezo:pool=3,lanes=2"]
    assert bad["status"] == "failed" and bad["reasons"][0].startswith("spec: pezo: pool=3 is not a multiple")
    lfsr = rows[str(parse("lfsr:width=8,lanes=2"))]
    assert lfsr["status"] == "failed" and lfsr["synth"]["ecp5"]["ff"] >= 8          # synthesis still measured
    assert any("RNG unit does not take kind 'lfsr'" in x for x in lfsr["reasons"])
    assert any("not a perturbation source" in x for x in lfsr["reasons"])
    md = (out / "pareto.md").read_text()
    assert "## ecp5: non-dominated points" in md and "## Failed points" in md
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"

