"""The engine gateware equals the golden engine on whole command streams, with random gaps on both
byte streams: every preset, the PeZO pool, PeZO rotate, uniform and Gaussian chains, drawn specs,
every command at its argument limits; and a few ZO training steps through the simulated engine (pool
refreshed or not, norm or folded scaling) are bit-identical to the golden run."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine import EngineSpec
from zoforge.golden.engine_protocol import Code, Op
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.engine_sessions import random_session
from zoforge.golden.spec import SpecError, parse
from zoforge.device.client import EngineClient
from zoforge.device.options import DeviceTrainOptions
from zoforge.device.trainer import ZOTrainer, make_task
from zoforge.sim.engine_sim import SimEngine


def check_session(spec, seed: int, commands: int = 40, max_words: int = 48, prob: float = 0.6):
    cmds = random_session(spec, np.random.default_rng(seed), commands, max_words)
    expected = EngineModel(spec).transact(b"".join(cmds))
    got = SimEngine(spec, valid_prob=prob, ready_prob=prob, rng_seed=seed).transact(b"".join(cmds))
    if got != expected:                      # find the first command that differs
        golden, sim = EngineModel(spec), SimEngine(spec, valid_prob=prob, ready_prob=prob, rng_seed=seed)
        for i, command in enumerate(cmds):
            a, b = golden.transact(command), sim.transact(command)
            assert a == b, f"{spec}: command {i} ({command[:12].hex()}) golden {a[:32].hex()} sim {b[:32].hex()}"
    assert got == expected


@pytest.mark.parametrize("seed", [11, 21])
@pytest.mark.parametrize("name, words", [("engine-s", 48), ("engine-m", 32), ("engine-l", 12)])
def test_presets_equal_golden(name, words, seed):
    check_session(parse(name), seed, max_words=words)


@pytest.mark.parametrize("rng", ["pezo-pool-x2", "pezo-pool-fold-x2", "pezo-rotate-x2", "pezo-uniform-x4", "clt4-x2",
                                 "icdf16-x2"])
def test_chains_equal_golden(rng):
    check_session(parse(f"engine:rng={rng},words=64,max_cols=16,batch=2"), seed=12)


def test_argument_limits_equal_golden():
    """Each command at its limit is accepted and one step past it rejected, in the gateware as in the
    golden engine: a bound off by one shows here, not only when a drawn session happens to hit it."""
    spec = parse("engine:rng=pezo-pool-norm-x2,words=16,max_cols=8,batch=2")     # START and SCALE both
    words, kw = spec.words, spec.kw_max
    seed_end, q_end = 1 << spec.seed_lfsr.width, 1 << (spec.rng_spec.sfrac + 1)
    W = np.arange(words * spec.lanes).reshape(words, spec.lanes) - 7
    X = np.arange(2 * spec.max_cols).reshape(2, spec.max_cols) - 5
    cases = [                                  # (command, accepted)
        (P.load(spec, 0, W), True), (P.load(spec, 1, W), False),
        (P.read(spec, words - 1, 1), True), (P.read(spec, words - 1, 2), False),
        (P.seed(spec, seed_end - 1), True), (P.seed(spec, seed_end), False),
        (P.start(spec, spec.pool_rows - 1), True), (P.start(spec, spec.pool_rows), False),
        (P.scale(spec, q_end - 1), True), (P.scale(spec, q_end), False),
        (P.perturb(spec, 1, words), True), (P.perturb(spec, 1, words + 1), False),
        (P.update(spec, 3, words), True), (P.update(spec, 3, words + 1), False),
        (P.forward(spec, words - 2 * kw, 2, X), True), (P.forward(spec, words - 2 * kw + 1, 2, X), False),
        (P.forward(spec, 0, 1, np.ones((1, spec.max_cols + 1))), False),
    ]
    golden = EngineModel(spec)
    for command, accepted in cases:
        assert golden.transact(command)[0] & 0x0F == (Code.OK if accepted else Code.BAD_ARGUMENT), command.hex()
    stream = b"".join(command for command, _ in cases) + P.read(spec, 0, words) + bytes([Op.STATUS])
    sim = SimEngine(spec, valid_prob=0.7, ready_prob=0.7, rng_seed=3)
    assert sim.transact(stream) == EngineModel(spec).transact(stream)


@st.composite
def small_engines(draw):
    rng = draw(st.sampled_from(["pezo-pool-x2", "pezo-rotate-x2", "clt4-x2", "pezo-rotate-x4", "icdf16-x2"]))
    w_bits = draw(st.sampled_from([8, 16]))
    kwargs = dict(rng=rng, words=draw(st.integers(8, 64)), w_bits=w_bits,
                  w_frac=draw(st.integers(w_bits // 2, w_bits - 2)), a_bits=draw(st.sampled_from([8, 16])),
                  batch=draw(st.integers(1, 3)), max_cols=draw(st.integers(1, 20)),
                  eps_shift=draw(st.integers(2, 6)), c_frac=draw(st.integers(8, 14)),
                  rounding=draw(st.sampled_from(["stochastic", "nearest_even", "floor"])),
                  decay=draw(st.sampled_from([0, 5])), overflow=draw(st.sampled_from(["saturate", "wrap"])))
    try:
        return EngineSpec(**kwargs)
    except SpecError:            # a drawn combination the spec rightly rejects (e.g. eps*z below 1 LSB)
        assume(False)


@settings(max_examples=5, deadline=None)
@given(spec=small_engines(), seed=st.integers(0, 1000))
def test_drawn_specs_equal_golden(spec, seed):
    check_session(spec, seed, commands=20)


def run_training(link, spec, steps):
    client = EngineClient(link, spec)
    client.check_spec()
    task = make_task(seed=2, train=64, test=32)
    trainer = ZOTrainer(client, task, DeviceTrainOptions(lr=0.05, batch=8, eval_interval=steps))
    history = trainer.train(steps)
    return history, client.read(0, trainer.net.words), client.status()


@pytest.mark.parametrize("rng, steps", [("pezo-pool-x2", 2), ("pezo-pool-r1-x2", 3), ("pezo-pool-fold-r1-x2", 3),
                                        ("pezo-pool-fold-x4", 3)])
def test_training_steps_are_bit_identical_to_the_golden_run(rng, steps):
    """Pool refresh (a SEED that refills the pool between steps) and folded scaling included."""
    spec = parse(f"engine:rng={rng},words=64,max_cols=16")
    golden = run_training(EngineModel(spec), spec, steps)
    sim = run_training(SimEngine(spec, valid_prob=0.8, ready_prob=0.8), spec, steps)
    assert golden[0] == sim[0]                               # every loss, bit for bit
    assert (golden[1] == sim[1]).all() and golden[2] == sim[2]
