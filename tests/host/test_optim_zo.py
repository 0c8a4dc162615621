"""ZO-SGD: the update rule (+eps, -2eps, +eps, update; q queries; MeZO's weight decay) against a
reference computed from the full z vectors, and the NaN guard."""

import numpy as np
import pytest

from zoforge.host.config import GPTConfig
from zoforge.host.optim import NonFiniteLoss, build, query_seed

CFG = GPTConfig(block_size=8, vocab_size=40, n_layer=1, n_head=2, n_embd=8)


def trainable(opt):
    return np.concatenate([opt.params.data[s.start:s.stop] for s in opt.source.layout.segments])


def loss_of(opt):
    """A smooth loss of the weights, as the model's would be (float64 scalar)."""
    target = np.linspace(-1, 1, opt.source.layout.size)
    return lambda: float(np.sum((trainable(opt).astype(np.float64) - target) ** 2))


def scalars(source, query, x):
    """The float32 scalar each weight's z is multiplied by in a pass with scalar ``x``: x times the
    segment's factor (scale=fold; 1 otherwise), rounded to float32."""
    factor = getattr(query, "factor", lambda k: 1.0)
    return np.concatenate([np.full(s.length, np.float32(x * factor(k)), np.float32)
                           for k, s in enumerate(source.layout.segments)])


@pytest.mark.parametrize("name,perturb", [("mezo", None), ("pezo", "pezo-pool"), ("pezo", "pezo-rotate"),
                                          ("pezo", "pezo-pool-fold"), ("pezo", "pezo:reuse=none,lanes=8,scale=fold"),
                                          ("pezo", "gaussian:method=clt,n=4,lanes=8,bits=16")])
@pytest.mark.parametrize("queries", [1, 3])
def test_step_equals_the_reference_rule(name, perturb, queries):
    from zoforge.host.params import Params
    p = Params.init(CFG, 1)
    opt = build(name, p, perturb=perturb, eps=1e-2, weight_decay=0.1, queries=queries, seed=5)
    lay, mask = opt.source.layout, None
    mask = np.concatenate([np.full(s.length, s.decay) for s in lay.segments])
    f = loss_of(opt)
    step, lr, eps = 4, 0.01, 1e-2
    w = trainable(opt)
    target = np.linspace(-1, 1, lay.size)
    zs, gs, losses, queries_made = [], [], [], []
    for i in range(queries):
        query = opt.source.query(step * queries + i, query_seed(5, step, i))
        queries_made.append(query)
        z = opt.source.full(query)
        zs.append(z)
        plus = w + z * scalars(opt.source, query, eps)
        lp = float(np.sum((plus.astype(np.float64) - target) ** 2))
        minus = plus + z * scalars(opt.source, query, -2.0 * eps)
        lm = float(np.sum((minus.astype(np.float64) - target) ** 2))
        w = minus + z * scalars(opt.source, query, eps)
        gs.append((lp - lm) / (2 * eps))
        losses += [lp, lm]
    for i, (query, z, g) in enumerate(zip(queries_made, zs, gs)):
        if i == 0:
            w[mask] *= np.float32(1 - lr * 0.1)
        w += z * scalars(opt.source, query, -lr * g / queries if queries > 1 else -lr * g)
    got = opt.step(f, step, lr)
    assert got == pytest.approx(np.mean(losses))
    assert opt.last_grads == pytest.approx(gs)
    assert np.array_equal(trainable(opt), w)
    if perturb and "fold" in perturb:               # the factors are not all 1: the test above means something
        assert len(set(queries_made[0].factors)) > 1


def test_seeds_differ_per_step_and_query_and_repeat_exactly():
    seeds = {query_seed(0, s, i) for s in range(50) for i in range(3)}
    assert len(seeds) == 150 and query_seed(0, 7, 1) == query_seed(0, 7, 1) != query_seed(1, 7, 1)


def test_zo_descends_a_quadratic():
    from zoforge.host.params import Params
    for name in ("mezo", "pezo"):
        opt = build(name, Params.init(CFG, 0), eps=1e-3, seed=1)
        f = loss_of(opt)
        start = f()
        for step in range(400):                 # lr ~ 1/(2d): ZO-SGD's best rate on a quadratic
            opt.step(f, step, 4e-4)
        assert f() < 0.9 * start, name


def test_nonfinite_loss_restores_the_perturbation_and_raises():
    from zoforge.host.params import Params
    p = Params.init(CFG, 0)
    opt = build("pezo", p, perturb="pezo:reuse=pool,pool=64,lanes=8,scale=none", eps=0.5)
    before = p.data.copy()
    calls = iter([1.0, float("nan")])
    with pytest.raises(NonFiniteLoss, match="nan"):
        opt.step(lambda: next(calls), 0, 0.1)
    assert np.allclose(p.data, before, atol=1e-6)          # +eps -2eps +eps: back up to float32 rounding
