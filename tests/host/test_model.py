"""The float32 model against an independent float64 re-implementation and float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from zoforge.host import model as model_module
from zoforge.host.backend import CpuBackend
from zoforge.host.config import GPTConfig, preset
from zoforge.host.model import GPT, IGNORE_INDEX
from zoforge.host.params import NAMES, Params

from .reference import logits64, loss64

CFG = GPTConfig(block_size=16, vocab_size=61, n_layer=2, n_head=2, n_embd=16)   # Vp = 128


def _model(seed=0):
    """Random weights everywhere (LayerNorm gains near 1, non-zero biases and padded wte rows), so no
    gradient is trivially zero."""
    p = Params.init(CFG, seed)
    rng = np.random.default_rng(seed + 100)
    p.data += rng.normal(0.0, 0.05, p.data.shape).astype(np.float32)
    return GPT(CFG, p)


def _batch(B=2, T=7, seed=1, ignore=True):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, CFG.vocab_size, (B, T))
    targets = rng.integers(0, CFG.vocab_size, (B, T))
    if ignore:
        targets[0, :3] = IGNORE_INDEX        # a classification prompt: only later positions count
    return tokens, targets


def _tensors64(params: Params) -> dict[str, np.ndarray]:
    return {name: view.astype(np.float64) for name, view in params.items()}


def test_loss_and_logits_match_float64():
    m = _model()
    tokens, targets = _batch()
    ref = loss64(CFG, _tensors64(m.params), tokens, targets)
    assert m.forward(tokens, targets) == pytest.approx(ref, rel=1e-5)
    assert m.forward_backward(tokens, targets) == pytest.approx(ref, rel=1e-5)
    np.testing.assert_allclose(m.logits(tokens), logits64(CFG, _tensors64(m.params), tokens), atol=1e-4)
    np.testing.assert_allclose(m.logits(tokens, last_only=True), m.logits(tokens)[:, -1], atol=1e-6)


def test_gradients_match_float64_finite_differences():
    m = _model()
    tokens, targets = _batch()
    m.forward_backward(tokens, targets)
    base = _tensors64(m.params)
    rng = np.random.default_rng(7)
    h = 1e-5
    for name in NAMES:
        grad = m.grads[name]
        shape = grad.shape
        if name == "wte":
            shape = (CFG.vocab_size, CFG.n_embd)         # the padded rows are checked separately
        coords = [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(4)]
        if name == "wte":
            coords.append((int(tokens[1, 2]), 3))        # a row that is also an input embedding
        if name == "wpe":
            coords.append((tokens.shape[1], 0))          # a position beyond T: gradient 0
        for c in coords:
            t = {k: v.copy() for k, v in base.items()}
            t[name][c] += h
            up = loss64(CFG, t, tokens, targets)
            t[name][c] -= 2 * h
            down = loss64(CFG, t, tokens, targets)
            fd = (up - down) / (2 * h)
            assert abs(grad[c] - fd) <= 1e-3 * abs(fd) + 2e-6, f"{name}{c}: backward {grad[c]:.8g}, fd {fd:.8g}"


def test_padded_vocabulary_takes_no_part():
    m = _model()
    tokens, targets = _batch()
    loss = m.forward_backward(tokens, targets)
    assert not m.grads.wte[CFG.vocab_size:].any()
    m.params.wte[CFG.vocab_size:] = 1e3                  # garbage in the padded rows changes nothing
    assert m.forward(tokens, targets) == loss


def test_accumulate_adds_gradients():
    m = _model()
    tokens, targets = _batch()
    m.forward_backward(tokens, targets)
    once = m.grads.data.copy()
    m.forward_backward(tokens, targets, accumulate=True)
    np.testing.assert_allclose(m.grads.data, 2 * once, rtol=1e-5, atol=1e-7)
    g = Params.zeros(CFG)
    g.data[:] = 123.0                                    # overwrite mode must not read old contents
    m.forward_backward(tokens, targets, grads=g)
    np.testing.assert_array_equal(g.data, once)


def test_ignored_targets_equal_dropping_them():
    m = _model()
    tokens, targets = _batch(B=1, T=9)
    targets[0, :5] = IGNORE_INDEX
    ref = loss64(CFG, _tensors64(m.params), tokens, targets)
    assert m.forward(tokens, targets) == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match="every target is ignored"):
        m.forward(tokens, np.full_like(targets, IGNORE_INDEX))


def test_inference_chunks_the_logits(monkeypatch):
    m = _model()
    tokens, targets = _batch(B=3, T=5)
    whole = m.forward(tokens, targets)
    monkeypatch.setattr(model_module, "_LOGIT_FLOATS", 4 * CFG.padded_vocab_size)   # 4 rows per chunk
    chunked = GPT(CFG, m.params).forward(tokens, targets)
    assert chunked == pytest.approx(whole, rel=1e-6)


def test_batch_shapes_change_between_calls():
    m = _model()
    for B, T in [(2, 7), (1, 16), (3, 1), (2, 7)]:
        tokens, targets = _batch(B=B, T=T, ignore=False)
        ref = loss64(CFG, _tensors64(m.params), tokens, targets)
        assert m.forward_backward(tokens, targets) == pytest.approx(ref, rel=1e-5)


def test_every_matmul_goes_through_the_backend():
    be = CpuBackend()
    m = GPT(CFG, _model().params, backend=be)
    tokens, targets = _batch()
    m.forward(tokens, targets)
    fwd = {tag: s.calls for tag, s in be.stats.items()}
    L = CFG.n_layer
    assert fwd == {"qkv": L, "attn_qk": L, "attn_av": L, "attn_proj": L, "fc": L, "fc_proj": L, "lm_head": 1}
    be.reset_stats()
    m.forward_backward(tokens, targets)
    calls = {tag: s.calls for tag, s in be.stats.items()}
    # forward 1 + backward 2 (dx, dW) per linear; attention 1 + 2 per product; lm_head 1 + 2
    assert calls == {"qkv": 3 * L, "attn_qk": 3 * L, "attn_av": 3 * L, "attn_proj": 3 * L, "fc": 3 * L,
                     "fc_proj": 3 * L, "lm_head": 3}


def test_float32_everywhere():
    m = _model()
    tokens, targets = _batch()
    m.forward_backward(tokens, targets)
    assert m.grads.data.dtype == np.float32 and m.params.data.dtype == np.float32
    for ws in m._workspaces.values():
        assert all(a.dtype == np.float32 for a in vars(ws).values() if isinstance(a, np.ndarray))
    assert m.logits(tokens).dtype == np.float32


@pytest.mark.parametrize("tokens, targets, message", [
    (np.zeros((2, 17), int), np.zeros((2, 17), int), "exceeds block_size=16"),
    (np.zeros(5, int), np.zeros(5, int), "2-D integer array"),
    (np.full((1, 3), 61), np.zeros((1, 3), int), r"token ids must be in \[0, 61\)"),
    (np.zeros((1, 3), int), np.full((1, 3), 61), "target ids must be < 61"),
    (np.zeros((1, 3), int), np.zeros((1, 4), int), "shaped like tokens"),
    (np.zeros((1, 3)), np.zeros((1, 3), int), "integer array"),
])
def test_bad_batches_are_refused(tokens, targets, message):
    with pytest.raises(ValueError, match=message):
        _model().forward(tokens, targets)


def test_params_for_another_config_are_refused():
    with pytest.raises(ValueError, match="params are for"):
        GPT(preset("tiny"), Params.init(CFG))
