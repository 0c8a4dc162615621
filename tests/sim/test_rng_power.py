"""RNG power proxy: the bare-chain view simulates like the engine's unit; per-query weighting of windows."""

import pytest

from zoforge.golden.spec import parse
from zoforge.sim.rng_power import ChainOnly, per_query, proxy, rng_activity, seed_every


@pytest.mark.parametrize("preset", ["pezo-pool-x2", "clt4-x2"])
def test_bare_chain_gives_the_engine_units_activity(preset):
    engine = parse("engine-s").replace(rng=preset)
    a = rng_activity(engine, 24)
    assert rng_activity(ChainOnly(engine.rng_spec), 24) == a
    assert a["bits"] > 0 and all(0 < a[w]["alpha"] < 1 for w in ("step", "steady"))
    assert 4 * (24 + 1) <= a["cycles"][1] <= 4 * (24 + 1 + 4)    # 4 passes: restart, chain latency, 24 words
    if preset.startswith("pezo-pool"):
        assert a["step"]["memory"] > 0 == a["steady"]["memory"]    # the refill writes the pool rows
        assert a["cycles"][0] > a["cycles"][1] + engine.rng_spec.rows   # the refill's cycles are in the step


def test_per_query_weights_the_seeded_and_the_steady_windows():
    act = {"bits": 10, "cycles": [300, 100], "step": {"toggles": 4.0, "alpha": 0.4, "memory": 2.0},
           "steady": {"toggles": 1.0, "alpha": 0.1, "memory": 0.0}}
    assert per_query(act, 0) == {"toggles": 1.0, "alpha": 0.1, "memory": 0.0, "cycles": 100}
    assert per_query(act, 1) == {"toggles": 4.0, "alpha": 0.4, "memory": 2.0, "cycles": 300}
    q = per_query(act, 3)                                        # one seeded query, two steady ones
    assert q["toggles"] == pytest.approx((4 * 300 + 1 * 200) / 500) and q["alpha"] == pytest.approx(q["toggles"] / 10)
    assert q["cycles"] == pytest.approx(500 / 3) and q["memory"] == pytest.approx(600 / 500)
    assert proxy(0.5, {"LUT": 10, "FF": 6}) == 8.0


def test_seed_rate_of_the_workload():
    assert seed_every(parse("pezo:reuse=pool,pool=64")) == getattr(parse("pezo"), "refresh", 0)
    assert seed_every(parse("pezo:reuse=none")) == 1 and seed_every(parse("gaussian")) == 1
