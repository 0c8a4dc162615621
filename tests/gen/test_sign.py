"""Sign gateware equals its golden model on whole streams (random back-pressure, a mid-stream reseed),
and an engine with a sign chain equals the golden engine, also over a few ZO training steps."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gen.test_engine import check_session, run_training
from tests.util import check_pysim
from zoforge.golden import parse
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.sign import SignSpec
from zoforge.sim.engine_sim import SimEngine

PRESETS = ["sign", "sign-x2", "sign-x4", "sign-sparse", "sign-sparse-x2", "sign-sparse-x4"]


@pytest.mark.parametrize("text", PRESETS + ["sign:lanes=3,sparse=4,width=20,form=fibonacci",
                                            "sign:lanes=64,width=64,bits=24", "sign:lanes=1,width=5,bits=3"])
def test_specs_equal_golden(text):
    check_pysim(parse(text))


@settings(max_examples=6, deadline=None)
@given(width=st.integers(2, 64), form=st.sampled_from(["galois", "fibonacci"]), sparse=st.sampled_from([0, 2, 4, 8]),
       data=st.data())
def test_drawn_specs_equal_golden(width, form, sparse, data):
    if width < 1 + sparse:
        sparse = 0
    lanes = data.draw(st.integers(1, min(width // (1 + sparse), 64)))
    spec = SignSpec(lanes=lanes, bits=data.draw(st.integers(2 + sparse // 2, 24)), sparse=sparse, width=width,
                    form=form, seed=data.draw(st.integers(1, (1 << width) - 1)))
    check_pysim(spec, reseed=data.draw(st.integers(1, (1 << width) - 1)))


@pytest.mark.parametrize("rng", ["sign-x2", "sign-sparse-x4", "sign"])
def test_engine_with_a_sign_chain_equals_golden(rng):
    check_session(parse(f"engine:rng={rng},words=64,max_cols=16,batch=2"), seed=12)


def test_training_steps_with_a_sign_chain_are_bit_identical_to_the_golden_run():
    spec = parse("engine:rng=sign-x2,words=64,max_cols=16")
    golden = run_training(EngineModel(spec), spec, 2)
    sim = run_training(SimEngine(spec, valid_prob=0.8, ready_prob=0.8), spec, 2)
    assert golden[0] == sim[0]                               # every loss, bit for bit
    assert (golden[1] == sim[1]).all() and golden[2] == sim[2]
