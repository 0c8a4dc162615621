"""Measurement cache: keys name everything a result depends on; whole files only; failures not kept."""

import json

from zoforge.sweep.cache import Cache, code_version, job_key

JOB = {"axis": "synth", "spec": "pezo:lanes=2", "family": "ecp5", "fmax": False, "yosys": "Yosys 0.68"}


def test_key_changes_with_every_field_and_the_axis_code():
    keys = {job_key(JOB), job_key({**JOB, "family": "xc7"}), job_key({**JOB, "spec": "pezo:lanes=4"}),
            job_key({**JOB, "yosys": "Yosys 0.69"}), job_key({**JOB, "axis": "rng_synth"})}
    assert len(keys) == 5
    assert job_key(dict(reversed(list(JOB.items())))) == job_key(JOB)        # order does not matter
    assert code_version("synth") == code_version("rng_synth") != code_version("quality")
    assert code_version("activity").startswith(code_version("synth").split("+")[0] + "+")


def test_put_get_and_failures_are_not_cached(tmp_path):
    cache = Cache(tmp_path)
    key = job_key(JOB)
    assert cache.get(key) is None
    cache.put(key, JOB, {"status": "failed", "reason": "yosys crashed"})
    assert cache.get(key) is None and len(cache) == 0
    cache.put(key, JOB, {"status": "ok", "lut": 5})
    assert cache.get(key) == {"status": "ok", "lut": 5} and len(cache) == 1
    stored = json.loads(next(tmp_path.glob("??/*.json")).read_text())
    assert stored["job"] == JOB
    assert not list(tmp_path.rglob("*.tmp"))
    next(tmp_path.glob("??/*.json")).write_text("{")                          # a damaged file is a miss
    assert cache.get(key) is None
