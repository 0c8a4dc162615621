"""Host side of the engine: layer layout in the weight memory, the update scalar's format, and the
two pool policies issuing the commands they should."""

import numpy as np
import pytest

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.spec import parse
from zoforge.device.client import EngineClient
from zoforge.device.trainer import ZOConfig, ZOTrainer, layout, make_task


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


@pytest.mark.parametrize("policy, seeds, starts", [("reseed", 3, 0), ("continue", 0, 3)])
def test_pool_policies(policy, seeds, starts):
    spec = parse("engine-s")
    link = Recorder(spec)
    trainer = ZOTrainer(EngineClient(link, spec), make_task(train=64, test=16), ZOConfig(pool_policy=policy, batch=8))
    link.ops.clear()                                # "continue" seeded once, at construction
    for _ in range(3):
        trainer.step(trainer.task.X_train[:8], trainer.task.y_train[:8])
    assert link.ops.count(P.Op.SEED) == seeds
    assert link.ops.count(P.Op.START) == starts and link.ops.count(P.Op.SCALE) == 3
    assert link.ops.count(P.Op.PERTURB) == 9 and link.ops.count(P.Op.UPDATE) == 3


def test_update_scalar_saturates_and_is_counted():
    spec = parse("engine-s")
    trainer = ZOTrainer(EngineClient(EngineModel(spec), spec), make_task(train=16, test=16), ZOConfig())
    assert trainer.c_code(1e9) == (1 << 15) - 1 and trainer.c_saturated == 1
    assert trainer.c_code(0.5) == 1 << 13 and trainer.c_saturated == 1
