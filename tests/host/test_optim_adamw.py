"""AdamW: the update against a whole-vector reference, nanoGPT's decay groups, clipping."""

import numpy as np
import pytest

from zoforge.host.config import GPTConfig
from zoforge.host.optim import build
from zoforge.host.params import Params

CFG = GPTConfig(block_size=8, vocab_size=40, n_layer=2, n_head=2, n_embd=8)


def reference(w, g, m, v, t, lr, b1, b2, eps, wd, mask, clip):
    g = g.copy()
    norm = float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))
    if clip and norm > clip:
        g *= np.float32(clip / (norm + 1e-6))
    m = m * np.float32(b1) + g * np.float32(1 - b1)
    v = v * np.float32(b2) + (g * g) * np.float32(1 - b2)
    denom = np.sqrt(v) * np.float32(1 / np.sqrt(1 - b2 ** t)) + np.float32(eps)
    w = w.copy()
    w[mask] *= np.float32(1 - lr * wd)
    return w - (m / denom) * np.float32(lr / (1 - b1 ** t)), m, v


@pytest.mark.parametrize("clip", [0.0, 0.5])
def test_adamw_matches_reference_and_skips_decay_on_biases_and_layernorm(clip):
    p = Params.init(CFG, 0)
    opt = build("adamw", p, weight_decay=0.1, grad_clip=clip)
    lay = opt.layout
    mask = np.zeros(len(p), bool)
    for s in lay.segments:
        mask[s.start:s.stop] = s.decay
    rng = np.random.default_rng(0)
    m = np.zeros_like(p.data)
    v = np.zeros_like(p.data)
    w = p.data.copy()
    for t in range(1, 4):
        g = Params(CFG, rng.standard_normal(len(p), dtype=np.float32) * np.float32(0.1))
        g.wte[CFG.vocab_size:] = 0
        want, m, v = reference(w, g.data, m, v, t, 1e-2, 0.9, 0.95, 1e-8, 0.1, mask, clip)
        opt.step(g, 1e-2)
        np.testing.assert_allclose(p.data, want, rtol=1e-6, atol=1e-7)
        w = p.data.copy()
    assert not p.wte[CFG.vocab_size:].any() and opt.t == 3
    bias = lay.segments[[s.name for s in lay.segments].index("qkvb[0]")]
    assert not bias.decay


def test_adamw_refuses_a_nonfinite_gradient():
    p = Params.init(CFG, 0)
    opt = build("adamw", p)
    g = Params.zeros(CFG)
    g.qkvw[0, 0, 0] = np.inf
    before = p.data.copy()
    with pytest.raises(ArithmeticError, match="gradient norm"):
        opt.step(g, 1e-3)
    assert np.array_equal(p.data, before) and opt.t == 0
