"""A sweep killed mid-way resumes: the rerun computes exactly the measurements that were not cached."""

import os
import re
import signal
import subprocess
import time

import pytest

from tests.sweep.sweep_util import needs_ray, run_sweep, sweep_command, sweep_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("yosys"), needs_ray]

# 4 points and their 4 CLT-4 baselines: 8 synthesis jobs.
ARGS = ["uniform:bits=8|9|10|11,lanes=1", "--families", "ecp5", "--no-quality", "--no-power"]


def test_killed_sweep_resumes_with_only_the_missing_points(tmp_path):
    out = tmp_path / "out"
    cache = out / "cache"
    # One CPU: the jobs finish one after another, so the kill lands between two of them.
    p = subprocess.Popen(sweep_command(*ARGS, "-o", out, "--cpus", "1"), env=sweep_env(tmp_path),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(cache.glob("??/*.json")) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(p.pid, signal.SIGKILL)            # the driver, its Ray and its workers, without warning
        p.wait()
    before = {f.stem for f in cache.glob("??/*.json")}
    assert not (out / "results.jsonl").exists()

    r = run_sweep(tmp_path, *ARGS, "-o", out)
    assert r.returncode == 0, r.stderr
    jobs, cached, to_run = map(int, re.search(r"sweep: (\d+) jobs, (\d+) cached, (\d+) to run", r.stderr).groups())
    assert jobs == 8 and cached == len(before) and 1 <= cached < jobs and to_run == jobs - cached
    assert len(re.findall(r"^\[\d+/8\] synth ecp5 ", r.stderr, re.M)) == to_run
    after = {f.stem for f in cache.glob("??/*.json")}
    assert before < after and len(after) == jobs
    assert (out / "results.jsonl").read_text().count('"status": "ok"') == 8
