"""Optional cross-check: logits, loss and every gradient against a PyTorch GPT-2 written here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoforge.host.model import GPT

from .test_model import CFG, _batch, _model

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")
F = torch.nn.functional


def _torch_loss(cfg, p: dict, tokens, targets):
    """GPT-2 on tensors named as in our layout (weights (out, in)); returns (logits, loss)."""
    B, T = tokens.shape
    C, H = cfg.n_embd, cfg.n_head
    x = p["wte"][tokens] + p["wpe"][:T]
    for l in range(cfg.n_layer):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        q, k, v = F.linear(h, p["qkvw"][l], p["qkvb"][l]).split(C, dim=-1)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = x @ p["wte"][:cfg.vocab_size].T
    loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def test_matches_pytorch():
    m: GPT = _model(seed=3)
    tokens, targets = _batch(B=3, T=11)
    p = {name: torch.tensor(view, requires_grad=True) for name, view in m.params.items()}
    logits, loss = _torch_loss(CFG, p, torch.tensor(tokens), torch.tensor(targets))
    loss.backward()
    ours = m.forward_backward(tokens, targets)
    assert ours == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(m.logits(tokens), logits.detach().numpy(), atol=2e-5)
    for name, t in p.items():
        expected = t.grad.numpy()
        scale = max(float(np.abs(expected).max()), 1e-6)
        err = float(np.abs(m.grads[name] - expected).max()) / scale
        assert err < 1e-4, f"{name}: max |ours - torch| / max|torch| = {err:.2e}"
    assert math.isfinite(ours)
