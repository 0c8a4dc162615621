"""One measurement of a sweep (a *job*), as a plain function: what a Ray task runs.

Jobs are dicts (JSON, so they can be hashed for the cache and shipped to a cluster):

* ``{"axis": "synth", "spec", "family", "fmax"}``: the source block itself through Yosys (LUT, FF,
  carry, DSP, BRAM, LUTRAM; ``fmax_mhz`` with nextpnr when asked, ice40 and ecp5).
* ``{"axis": "rng_synth", "spec", "family"}``: the engine's RNG unit around the chain (seed storage
  and derivation, restart), the cells the power proxy weights.
* ``{"axis": "activity", "spec", "words"}``: switching activity of the RNG unit through the ZO
  workload (:mod:`zoforge.sim.rng_power`) and the SEED rate of its queries.
* ``{"axis": "quality", "optimizer", "spec", "task", "model", "seed", "steps", "hyper"}``: one
  fine-tuning run (:func:`zoforge.sweep.quality.run_quality`).

:func:`measure` never raises: it returns ``{"status": "ok", ...figures, "seconds"}`` or
``{"status": "failed", "reason": one line}`` (a synthesis error, a NaN loss, a chain the RNG unit does
not take), so that one bad point never stops a sweep.
"""

from __future__ import annotations

import math
import time

__all__ = ["measure", "AXES"]

AXES = ("synth", "rng_synth", "activity", "quality")


def _source(text: str):
    from ..golden.source import SourceSpec
    from ..golden.spec import parse
    return parse(text, SourceSpec)


def _synth(job: dict) -> dict:
    from ..synth import fmax, synthesize
    spec = _source(job["spec"])
    r = synthesize(spec, job["family"])
    out = {k.lower(): v for k, v in r["categories"].items()}
    out["fallback"] = r["fallback"]
    if job.get("fmax") and job["family"] != "xc7":
        out["fmax_mhz"] = fmax(spec, job["family"])
    return out


def _unit(text: str):
    from ..sim.rng_power import ChainOnly
    chain = ChainOnly(_source(text))
    try:
        chain.has_pool, chain.has_scale, chain.seed_lfsr
    except AttributeError:
        raise ValueError(f"the engine's RNG unit does not take kind {chain.rng_spec.KIND!r} "
                         "(it needs a chain with an LFSR seed)") from None
    return chain


def _rng_synth(job: dict) -> dict:
    from ..gen.engine_rng import RngUnitSpec
    from ..synth import synthesize
    r = synthesize(RngUnitSpec(_unit(job["spec"])), job["family"])
    return {k.lower(): v for k, v in r["categories"].items()}


def _activity(job: dict) -> dict:
    from ..sim.rng_power import per_query, rng_activity, seed_every
    unit = _unit(job["spec"])
    act = rng_activity(unit, job["words"])
    every = seed_every(unit.rng_spec)
    return {"activity": act, "seed_every": every, "query": per_query(act, every)}


def _quality(job: dict) -> dict:
    from .quality import run_quality
    r = run_quality(job["optimizer"], job["spec"], job["seed"], job["steps"], task=job["task"],
                    model=job["model"], **job["hyper"])
    if not math.isfinite(r["final_loss"]):
        raise ArithmeticError(f"final loss is {r['final_loss']}")
    return {k: r[k] for k in ("final_loss", "final_accuracy", "start_loss", "curve")}


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if type(e).__name__ in ("SpecError", "ToolFailed", "ToolMissing", "TrainingError") \
        else f"{type(e).__name__}: {text}"


def measure(job: dict) -> dict:
    """Run one job; see the module docstring."""
    t0 = time.perf_counter()
    try:
        figures = {"synth": _synth, "rng_synth": _rng_synth, "activity": _activity, "quality": _quality}[job["axis"]](job)
    except Exception as e:      # any failure is this point's result, reported with its reason
        return {"status": "failed", "reason": _reason(e), "seconds": round(time.perf_counter() - t0, 3)}
    return {"status": "ok", **figures, "seconds": round(time.perf_counter() - t0, 3)}
