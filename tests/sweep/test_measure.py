"""One measurement: figures on success, one-line reasons on failure, never an exception."""

import pytest

from zoforge.golden.spec import parse
from zoforge.sweep.measure import measure
from zoforge.sweep.quality import DEFAULTS

TINY = dict(axis="quality", task="classify", model="tiny", steps=2, seed=0,
            hyper={**{k: DEFAULTS[k] for k in ("lr", "adamw_lr", "eps")}, "batch": 4, "seq": 48})


def test_activity_of_a_pool_chain_and_a_kind_the_rng_unit_does_not_take():
    r = measure({"axis": "activity", "spec": str(parse("pezo:pool=16,lanes=2,bits=8,scale=sqrt3")), "words": 16})
    assert r["status"] == "ok" and r["seed_every"] == 0
    assert r["query"]["alpha"] == r["activity"]["steady"]["alpha"] > 0
    r = measure({"axis": "activity", "spec": "lfsr:width=8,lanes=2", "words": 16})
    assert r == {"status": "failed", "reason": "ValueError: the engine's RNG unit does not take kind 'lfsr' "
                                               "(it needs a chain with an LFSR seed)", "seconds": r["seconds"]}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the diverging run overflows on purpose
def test_quality_run_and_a_nan_loss_recorded_as_a_reason():
    r = measure({**TINY, "optimizer": "pezo", "spec": str(parse("pezo:pool=16,lanes=2,bits=8,scale=sqrt3"))})
    assert r["status"] == "ok" and r["curve"][0][0] == 0 and r["curve"][-1] == [2, r["final_loss"]]
    bad = measure({**TINY, "optimizer": "mezo", "spec": None, "hyper": {**TINY["hyper"], "lr": 1e30}})
    assert bad["status"] == "failed" and "stopped at step" in bad["reason"] and "\n" not in bad["reason"]
    r = measure({**TINY, "optimizer": "pezo", "spec": "lfsr:width=8,lanes=2"})
    assert r["status"] == "failed" and "is not a perturbation source" in r["reason"]


@pytest.mark.parametrize("job", [{"axis": "synth", "spec": "pezo:pool=3,lanes=2", "family": "ecp5"},
                                 {"axis": "rng_synth", "spec": "pezo:bogus=1", "family": "ecp5"}])
def test_invalid_specs_fail_with_the_spec_error(job):
    r = measure(job)
    assert r["status"] == "failed" and r["reason"].startswith("pezo: ")
