"""A sweep from plan to results: the jobs, the cache, Ray, the progress line, the output files.

Jobs. Every valid point gets, per family, a synthesis of the block and (power) of its RNG unit, one
activity simulation, and (quality) one training run per seed. Its baseline, the CLT-4 Gaussian at the
point's lanes and bits, gets the same synthesis and power jobs; MeZO and AdamW get the training runs.
Jobs found in the cache are not run again.

Ray. An embedded local Ray (``ray.init(num_cpus=...)``, no dashboard) unless ``address`` names a
running cluster (``auto`` or ``ray://HOST:PORT``; the driver's zoforge package is shipped to it with
the job). Every job is a Ray task holding one CPU (Yosys and the training runs are single-threaded);
training tasks wait for one task that prepares the base model and the task's data. Results are cached
as they arrive, in the driver.

Members
-------
RAY_MISSING, require_ray(), clt4(spec), plan_jobs(plan), run_sweep(plan, out, cache, ...) -> rows
"""

from __future__ import annotations

import logging
import os
import pathlib
import sys
import time

from ..tools import ToolMissing
from .cache import Cache, job_key
from .measure import measure

__all__ = ["RAY_MISSING", "require_ray", "clt4", "plan_jobs", "run_sweep", "QUALITY_BASELINES"]

RAY_MISSING = "zoforge sweep needs Ray; install it: pip install 'zoforge[sweep]'"
#: optimizers every quality sweep runs next to the points (spec None: their own perturbations)
QUALITY_BASELINES = ("mezo", "adamw")


def require_ray():
    try:
        import ray
    except ImportError:
        raise ToolMissing(RAY_MISSING) from None
    return ray


def clt4(spec_text: str) -> str | None:
    """The CLT-4 Gaussian at the spec's numbers per cycle and bits (None if no such Gaussian exists)."""
    from ..golden.spec import SpecError, parse
    spec = parse(spec_text)
    try:
        return str(parse(f"gaussian:method=clt,n=4,lanes={spec.outputs_per_cycle},bits={getattr(spec, 'bits', 16)}"))
    except SpecError:
        return None


def _yosys() -> str:
    from ..synth import yosys_version
    try:
        return yosys_version()
    except ToolMissing:
        return "missing"


def plan_jobs(plan) -> list[dict]:
    """Every job of the plan, without duplicates, longest first (training, then power, synthesis)."""
    valid = [p.spec for p in plan.points if p.spec]
    hardware = list(dict.fromkeys(valid + [b for b in map(clt4, valid) if b]))
    jobs = []
    if plan.quality:
        common = dict(axis="quality", task=plan.task, model=plan.model, steps=plan.steps, hyper=plan.hyper)
        for spec in valid:
            jobs += [{**common, "optimizer": "pezo", "spec": spec, "seed": s} for s in range(plan.seeds)]
        for opt in QUALITY_BASELINES:
            jobs += [{**common, "optimizer": opt, "spec": None, "seed": s} for s in range(plan.seeds)]
    yosys = _yosys()
    if plan.power:
        jobs += [{"axis": "activity", "spec": s, "words": plan.power_words} for s in hardware]
        jobs += [{"axis": "rng_synth", "spec": s, "family": f, "yosys": yosys} for s in hardware for f in plan.families]
    jobs += [{"axis": "synth", "spec": s, "family": f, "fmax": plan.fmax and f != "xc7", "yosys": yosys}
             for s in hardware for f in plan.families]
    return jobs


def describe(job: dict) -> str:
    from .pareto import short
    what = short(job["spec"]) if job["spec"] else job["optimizer"]
    where = job.get("family") or (f"{job['task']} seed {job['seed']}" if job["axis"] == "quality" else "")
    return f"{job['axis']} {where} {what}".replace("  ", " ")


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class _Progress:
    """``[done/total] job status | elapsed, ETA``: ETA from the jobs computed so far."""

    def __init__(self, total: int, cached: int, workers: int, stream):
        self.total, self.done, self.computed, self.workers = total, cached, 0, max(1, workers)
        self.t0, self.busy, self.stream = time.perf_counter(), 0.0, stream

    def update(self, job: dict, result: dict) -> None:
        self.done += 1
        self.computed += 1
        self.busy += result.get("seconds", 0.0)
        elapsed = time.perf_counter() - self.t0
        left = self.total - self.done
        # Work left = mean job time x jobs left, shared by the workers.
        eta = self.busy / self.computed * left / self.workers
        status = "ok" if result["status"] == "ok" else f"FAILED: {result['reason']}"
        self.stream.write(f"[{self.done}/{self.total}] {describe(job)}: {status} ({result.get('seconds', 0):.1f} s) "
                          f"| {_clock(elapsed)} elapsed, ETA {_clock(eta)}\n")
        self.stream.flush()


def _ray_init(ray, address, cpus):
    """Workers run the driver's zoforge (the code the cache keys name): on a cluster it is shipped
    with the job, locally it goes first on the workers' PYTHONPATH."""
    package = pathlib.Path(__file__).resolve().parents[1]
    env_vars = {"AMARANTH_USE_YOSYS": os.environ.get("AMARANTH_USE_YOSYS", "builtin")}
    if address:
        ray.init(address=address, runtime_env={"py_modules": [str(package)], "env_vars": env_vars},
                 logging_level=logging.ERROR, log_to_driver=False)
    else:
        path = os.pathsep.join(p for p in (str(package.parent), os.environ.get("PYTHONPATH")) if p)
        ray.init(num_cpus=cpus or os.cpu_count(), include_dashboard=False, logging_level=logging.ERROR,
                 log_to_driver=False, object_store_memory=200 * 2**20,
                 runtime_env={"env_vars": {**env_vars, "PYTHONPATH": path}})
    return int(ray.cluster_resources().get("CPU", 1))


def _prepare(task: str, model: str) -> bool:
    from .quality import prepare
    prepare(task, model)
    return True


def execute(jobs: list[dict], cache: Cache, *, address=None, cpus=None, stream=sys.stderr) -> dict:
    """key -> result for every job: from the cache, or run on Ray (results cached as they arrive)."""
    keys = [job_key(j) for j in jobs]
    results = {k: r for k, r in ((k, cache.get(k)) for k in keys) if r is not None}
    todo = [(k, j) for k, j in zip(keys, jobs) if k not in results]
    stream.write(f"sweep: {len(jobs)} jobs, {len(results)} cached, {len(todo)} to run\n")
    if not todo:
        return results
    ray = require_ray()
    workers = _ray_init(ray, address, cpus)
    stream.write(f"sweep: Ray with {workers} CPUs ({address or 'local'})\n")
    stream.flush()
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(_measure_after)
        prep = ray.remote(num_cpus=1, max_retries=1)(_prepare)
        ready = {}
        pending = {}
        for k, j in todo:
            dep = None
            if j["axis"] == "quality":
                tm = (j["task"], j["model"])
                if tm not in ready:
                    ready[tm] = prep.remote(*tm)
                dep = ready[tm]
            pending[task.remote(j, dep)] = (k, j)
        progress = _Progress(len(jobs), len(results), workers, stream)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            k, j = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except Exception as e:          # a crashed worker or a failed preparation
                result = {"status": "failed", "reason": " ".join(str(e).split())[:300]}
            cache.put(k, j, result)
            results[k] = result
            progress.update(j, result)
    finally:
        ray.shutdown()
    return results


def _measure_after(job: dict, ready) -> dict:
    """A job (``ready``: the preparation it waited for, resolved by Ray)."""
    return measure(job)


def run_sweep(plan, out, *, cache=None, address=None, cpus=None, stream=sys.stderr) -> list[dict]:
    """Run the plan, write ``out/results.jsonl``, ``pareto.md`` and ``pareto.png``; returns the rows."""
    from .results import assemble, write_outputs
    out = pathlib.Path(out)
    cache = Cache(cache if cache is not None else out / "cache")
    t0 = time.perf_counter()
    jobs = plan_jobs(plan)
    results = execute(jobs, cache, address=address, cpus=cpus, stream=stream)
    rows = assemble(plan, jobs, [results.get(job_key(j)) for j in jobs])
    write_outputs(rows, plan, out, seconds=time.perf_counter() - t0)
    return rows
