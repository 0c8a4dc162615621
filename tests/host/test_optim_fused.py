"""The fused ZO step (passes applied inside the forward) against the reference ZOSGD: after N steps on
a real GPT the weights and every loss are equal bit for bit, for every kind of perturbation source,
q = 1 and q > 1, weight decay, pool refresh; with the chunking constants shrunk so that tensors span
several units and units span several tensors."""

import numpy as np
import pytest

from zoforge.host.config import GPTConfig
from zoforge.host.model import GPT
from zoforge.host.optim import FusedZOSGD, Workers, build, mezo_z, spec_z
from zoforge.host.params import Params

CFG = GPTConfig(block_size=16, vocab_size=96, padded_vocab_size=128, n_layer=2, n_head=2, n_embd=32)

SOURCES = [("mezo", None, 0), ("pezo", "pezo-pool", 0), ("pezo", "pezo-pool", 2),
           ("pezo", "pezo:reuse=pool,pool=64,lanes=8,bits=16,scale=norm", 0), ("pezo", "pezo-pool-fold", 0),
           ("pezo", "pezo-rotate", 0), ("pezo", "pezo:reuse=none,lanes=8,scale=fold", 0), ("pezo", "sign", 0),
           ("pezo", "clt4", 0), ("pezo", "uniform16", 0)]


@pytest.fixture(params=[False, True], ids=["default-chunks", "small-chunks"])
def chunks(request, monkeypatch):
    if request.param:
        monkeypatch.setattr(mezo_z, "BLOCK", 5000)          # blocks cross tensors and tensors cross blocks
        monkeypatch.setattr(spec_z, "_CHUNK", 3000)
        monkeypatch.setattr(spec_z, "SUB", 256)             # pool=64 stays periodic, pool=4096 does not


def run(name, perturb, refresh, queries, fused, steps=3, threads=2):
    model = GPT(CFG, Params.init(CFG, 3))
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, CFG.vocab_size, (2, 8)), rng.integers(0, CFG.vocab_size, (2, 8))
    opt = build(name, model.params, perturb=perturb, eps=1e-2, weight_decay=0.1, queries=queries, seed=7,
                pool_refresh=refresh, workers=Workers(threads), fused=fused)
    losses = [opt.step(lambda: model.forward(tokens, targets), s, 1e-2) for s in range(steps)]
    opt.flush()
    return model.params.data, losses, opt


@pytest.mark.parametrize("name,perturb,refresh", SOURCES)
@pytest.mark.parametrize("queries", [1, 3])
def test_fused_equals_reference_bit_for_bit(chunks, name, perturb, refresh, queries):
    ref, ref_losses, _ = run(name, perturb, refresh, queries, fused=False)
    got, losses, opt = run(name, perturb, refresh, queries, fused=True)
    assert isinstance(opt, FusedZOSGD)
    assert losses == ref_losses
    assert np.array_equal(got.view(np.uint32), ref.view(np.uint32))
    start, _, _ = run(name, perturb, refresh, queries, fused=False, steps=0)
    assert not np.array_equal(start, got)                   # the steps did move the weights


def test_thread_count_does_not_change_the_bits():
    a, _, _ = run("mezo", None, 0, 1, fused=True, threads=1)
    b, _, _ = run("mezo", None, 0, 1, fused=True, threads=2)
    assert np.array_equal(a, b)


def test_pending_update_is_applied_by_the_next_forward_or_flush():
    model = GPT(CFG, Params.init(CFG, 3))
    tokens = np.zeros((1, 4), np.int64)
    opt = build("pezo", model.params, eps=1e-2, fused=True)
    before = model.params.data.copy()
    opt.step(lambda: model.forward(tokens, tokens), 0, 1e-2)
    assert model.params.lazy.pending                        # restore + update still due
    loss = model.forward(tokens, tokens)                    # a forward reads the updated weights
    assert not model.params.lazy.pending
    ref = GPT(CFG, Params.init(CFG, 3))
    ref_opt = build("pezo", ref.params, eps=1e-2)
    ref_opt.step(lambda: ref.forward(tokens, tokens), 0, 1e-2)
    assert loss == ref.forward(tokens, tokens)
    assert np.array_equal(model.params.data, ref.params.data) and not np.array_equal(before, ref.params.data)


def test_a_loss_that_bypasses_the_model_is_refused():
    p = Params.init(CFG, 3)
    opt = build("mezo", p, eps=1e-2, fused=True)
    with pytest.raises(RuntimeError, match="did not read every weight"):
        opt.step(lambda: float(np.sum(p.data)), 0, 1e-2)
    assert not p.lazy.pending


def test_two_fused_optimizers_on_one_model_settle_each_other():
    model = GPT(CFG, Params.init(CFG, 3))
    ref = GPT(CFG, Params.init(CFG, 3))
    tokens = np.ones((1, 4), np.int64)
    opts = [build(n, model.params, perturb=s, eps=1e-2, fused=True) for n, s in (("mezo", None), ("pezo", "sign"))]
    refs = [build(n, ref.params, perturb=s, eps=1e-2) for n, s in (("mezo", None), ("pezo", "sign"))]
    for step in range(2):
        for o, r in zip(opts, refs):
            assert o.step(lambda: model.forward(tokens, tokens), step, 1e-2) == \
                r.step(lambda: ref.forward(tokens, tokens), step, 1e-2)
    opts[1].flush()
    assert np.array_equal(model.params.data, ref.params.data)
