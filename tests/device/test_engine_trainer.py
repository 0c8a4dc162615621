"""Host side of the engine: layer layout in the weight memory, the update scalar's format, the
commands each RNG chain's spec calls for (pool refresh, folded scaling), and the z of every step."""

import numpy as np
import pytest

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.pezo import fold_factor, perturbation, tensor_scale
from zoforge.golden.queries import query_position
from zoforge.golden.scale import gaussian_norm
from zoforge.golden.spec import parse
from zoforge.device.client import EngineClient
from zoforge.device.options import DeviceTrainOptions
from zoforge.device.trainer import ZOTrainer, layout, make_task


def test_layout_packs_layers_and_checks_the_spec():
    spec = parse("engine-s")                        # 2 lanes, 512 words, max_cols 64
    layers = layout(spec, [8, 16, 4])
    assert [(l.base, l.rows, l.cols, l.kw) for l in layers] == [(0, 16, 9, 5), (80, 4, 17, 9)]
    with pytest.raises(ValueError, match="max_cols"):
        layout(spec, [64, 4])
    with pytest.raises(ValueError, match="weight words"):
        layout(spec, [60, 40, 4])


def test_task_is_deterministic_and_standardized():
    a, b = make_task(seed=3), make_task(seed=3)
    assert (a.X_train == b.X_train).all() and abs(a.X_train.mean()) < 1e-9
    assert a.classes == 4 and a.features == 8


class Recorder:
    def __init__(self, spec):
        self.model, self.ops = EngineModel(spec), []

    def transact(self, command):
        self.ops.append(command[0])
        return self.model.transact(command)


def run_steps(rng: str, steps: int):
    """A trainer on engine-s with chain ``rng``; per step: the ops sent, the engine's z of that step
    (its seed and start row after the step) and the step's record."""
    spec = parse("engine-s").replace(rng=rng)
    link = Recorder(spec)
    trainer = ZOTrainer(EngineClient(link, spec), make_task(train=64, test=16), DeviceTrainOptions(batch=8, seed=3, lr=0.05))
    out = []
    for _ in range(steps):
        link.ops.clear()
        info = trainer.step(trainer.task.X_train[:8], trainer.task.y_train[:8])
        out.append((list(link.ops), link.model.z(trainer.net.words), info))
    return spec, trainer, out


@pytest.mark.parametrize("rng, seeds, starts, scales", [
    ("pezo-pool-norm-x2", [1, 0, 0, 0], 1, 1),       # seeded once, then the pool continues
    ("pezo-pool-x2", [1, 0, 0, 0], 1, 0),            # the default: refilled every 4 queries, folded scaling
    ("pezo-pool-r1-x2", [1, 1, 1, 1], 1, 1),         # refilled for every query
    ("pezo-pool-fold-x2", [1, 0, 0, 0], 1, 0),       # folded scaling: no SCALE command
    ("pezo-rotate-x2", [1, 1, 1, 1], 0, 1),          # no pool: reseeded every query
    ("pezo-uniform-x2", [1, 1, 1, 1], 0, 0)])
def test_commands_follow_the_rng_spec(rng, seeds, starts, scales):
    _, _, steps = run_steps(rng, 4)
    assert [ops.count(P.Op.SEED) for ops, _, _ in steps] == seeds
    for ops, _, _ in steps:
        assert ops.count(P.Op.START) == starts and ops.count(P.Op.SCALE) == scales
        assert ops.count(P.Op.PERTURB) == 3 and ops.count(P.Op.UPDATE) == 1


@pytest.mark.parametrize("rng", ["pezo-pool-x2", "pezo-pool-r1-x2", "pezo-pool-fold-r1-x2", "pezo-rotate-x2",
                                 "clt4-x2"])
def test_each_step_perturbs_along_the_query_position(rng):
    """The z the engine used in step t is the stream at query_position(t), and consecutive steps differ:
    a pool whose row never advanced (or that was never reseeded) would repeat z."""
    spec, trainer, steps = run_steps(rng, 4)
    chain, length = spec.rng_spec, trainer.net.words * spec.lanes
    zs = [z for _, z, _ in steps]
    for t, z in enumerate(zs):
        seed, start = query_position(chain, t, length, trainer.config.seed)
        if chain.KIND == "pezo":
            q = tensor_scale(chain, start, length, seed) if spec.has_scale else None
            want = perturbation(chain, start, length, seed=seed, q=q)
        else:
            want = chain.golden(trainer.net.words, seed=seed).reshape(-1)
        assert np.array_equal(z.reshape(-1), want), t
    assert all(not np.array_equal(a, b) for a, b in zip(zs, zs[1:]))


def test_fold_factor_goes_into_the_update_scalar():
    spec, trainer, steps = run_steps("pezo-pool-fold-x2", 3)
    chain, length = spec.rng_spec, trainer.net.words * spec.lanes
    for t, (_, z, info) in enumerate(steps):
        _, start = query_position(chain, t, length, trainer.config.seed)
        f = fold_factor(chain, start, length)
        assert info["factor"] == f and f != 1.0
        # f makes the step's perturbation norm-matched, as scale=norm's q would
        assert np.linalg.norm(z * chain.out_format.lsb * f) == pytest.approx(gaussian_norm(length))
        assert info["c"] == trainer.c_code(trainer.config.lr * info["g"] * f * f)


def test_update_scalar_saturates_and_is_counted():
    spec = parse("engine-s")
    trainer = ZOTrainer(EngineClient(EngineModel(spec), spec), make_task(train=16, test=16), DeviceTrainOptions())
    assert trainer.c_code(1e9) == (1 << 15) - 1 and trainer.c_saturated == 1
    assert trainer.c_code(0.5) == 1 << 13 and trainer.c_saturated == 1
