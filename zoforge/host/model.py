"""GPT-2 in numpy float32: forward, fused loss, backward (llm.c's structure in NumPy).

Two paths share one forward body:

* :meth:`GPT.forward` -- the loss only, with inference memory: one layer's worth of activation buffers
  reused by every layer and the logits processed in row chunks. This is what a zeroth-order step calls
  twice.
* :meth:`GPT.forward_backward` -- keeps every layer's activations (like llm.c, allocated once per batch
  shape and reused) and writes the gradient into a :class:`Params` of the same layout.

Every matrix product goes through ``self.backend`` (tags: qkv, attn_qk, attn_av, attn_proj, fc, fc_proj,
lm_head) so another backend (the NPU) can take them.
"""

from __future__ import annotations

import numpy as np

from .backend import CpuBackend, MatmulBackend
from .config import GPTConfig
from .layers import (
    attention_backward,
    attention_forward,
    classifier,
    encoder_backward,
    encoder_forward,
    gelu_backward,
    gelu_forward,
    layernorm_backward,
    layernorm_forward,
    linear_backward,
    linear_forward,
)
from .params import Params

__all__ = ["GPT", "IGNORE_INDEX"]

#: Targets below zero are ignored by the loss; this is the conventional value to use.
IGNORE_INDEX = -1
#: Inference processes the logits in row chunks of at most this many floats (64 MiB).
_LOGIT_FLOATS = 1 << 24


def _nothing(*names: str) -> None:
    """``ready`` when no passes are due."""


class _Workspace:
    """Activation buffers for one batch shape. ``keep``: one slot per layer (for the backward);
    otherwise a single slot that every layer reuses."""

    def __init__(self, cfg: GPTConfig, B: int, T: int, keep: bool):
        N, C, H = B * T, cfg.n_embd, cfg.n_head
        S = cfg.n_layer if keep else 1
        f32 = np.float32

        def e(*shape):
            return np.empty(shape, dtype=f32)

        self.keep = keep
        self.encoded = e(N, C)
        self.ln1, self.ln1_mean, self.ln1_rstd = e(S, N, C), e(S, N), e(S, N)
        self.qkv, self.att, self.atty = e(S, N, 3 * C), e(S, B, H, T, T), e(S, N, C)
        self.res2 = e(S, N, C)
        self.ln2, self.ln2_mean, self.ln2_rstd = e(S, N, C), e(S, N), e(S, N)
        self.fch, self.fch_gelu = e(S, N, 4 * C), e(S, N, 4 * C)
        self.res3 = e(S, N, C)
        self.lnf, self.lnf_mean, self.lnf_rstd = e(N, C), e(N), e(N)
        rows = N if keep else max(1, min(N, _LOGIT_FLOATS // cfg.padded_vocab_size))
        self.logits = e(rows, cfg.padded_vocab_size)
        if keep:                               # gradients flowing backwards, and scratch
            self.dres, self.dln, self.scratch = e(N, C), e(N, C), e(N, C)
            self.dqkv, self.datt = e(N, 3 * C), e(B, H, T, T)
            self.dfch, self.scratch4a, self.scratch4b = e(N, 4 * C), e(N, 4 * C), e(N, 4 * C)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))


class GPT:
    """GPT-2: ``config`` shapes, ``params`` weights (one flat float32 vector), ``backend`` matmuls."""

    def __init__(self, config: GPTConfig, params: Params | None = None, *,
                 backend: MatmulBackend | None = None, seed: int = 0):
        if params is not None and params.config != config:
            raise ValueError(f"model: params are for {params.config}, not {config}")
        self.config = config
        self.params = params if params is not None else Params.init(config, seed)
        self.backend = backend if backend is not None else CpuBackend()
        self._grads: Params | None = None
        self._workspaces: dict[tuple[bool, int, int], _Workspace] = {}

    # -- public API ---------------------------------------------------------------------------------
    def forward(self, tokens: np.ndarray, targets: np.ndarray) -> float:
        """Mean cross-entropy of predicting ``targets`` (B, T) from ``tokens`` (B, T); targets < 0 are
        ignored. Stores no activations (inference memory)."""
        tokens, targets = self._check(tokens, targets)
        ws = self._workspace(tokens.shape, keep=False)
        self._body(ws, tokens)
        return classifier(self.backend, ws.lnf, self.params.wte, targets, self.config.vocab_size, ws.logits)

    def forward_backward(self, tokens: np.ndarray, targets: np.ndarray, *, grads: Params | None = None,
                         accumulate: bool = False) -> float:
        """The loss, and its gradient written into ``grads`` (default :attr:`grads`), or added to it
        with ``accumulate`` (micro-batches: scale the loss yourself)."""
        tokens, targets = self._check(tokens, targets)
        g = grads if grads is not None else self.grads
        if g.config != self.config:
            raise ValueError(f"model: grads are for {g.config}, not {self.config}")
        ws = self._workspace(tokens.shape, keep=True)
        self._body(ws, tokens)
        loss = classifier(self.backend, ws.lnf, self.params.wte, targets, self.config.vocab_size, ws.logits,
                          dx=ws.dln, dwte=g.wte, acc=accumulate)
        self._backward(ws, tokens, g, accumulate)
        return loss

    def logits(self, tokens: np.ndarray, *, last_only: bool = False) -> np.ndarray:
        """Logits over the real vocabulary: (B, T, V), or (B, V) for the last position only
        (sampling, classification by label words)."""
        tokens, _ = self._check(tokens, None)
        B, T = tokens.shape
        ws = self._workspace(tokens.shape, keep=False)
        self._body(ws, tokens)
        x = ws.lnf.reshape(B, T, -1)[:, -1] if last_only else ws.lnf
        out = self.backend.matmul(x, self.params.wte[:self.config.vocab_size].T, tag="lm_head")
        return out if last_only else out.reshape(B, T, -1)

    @property
    def grads(self) -> Params:
        """The default gradient buffer (allocated on first use)."""
        if self._grads is None:
            self._grads = Params.zeros(self.config)
        return self._grads

    def free_buffers(self) -> None:
        """Drop the activation workspaces and the default gradient buffer."""
        self._workspaces.clear()
        self._grads = None

    # -- internals ----------------------------------------------------------------------------------
    def _check(self, tokens, targets) -> tuple[np.ndarray, np.ndarray | None]:
        cfg = self.config
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.dtype.kind not in "iu" or tokens.size == 0:
            raise ValueError(f"model: tokens must be a non-empty 2-D integer array (B, T); "
                             f"got {tokens.dtype} {tokens.shape}")
        if tokens.shape[1] > cfg.block_size:
            raise ValueError(f"model: sequence length T={tokens.shape[1]} exceeds block_size={cfg.block_size}")
        if tokens.min() < 0 or tokens.max() >= cfg.vocab_size:
            raise ValueError(f"model: token ids must be in [0, {cfg.vocab_size}); "
                             f"got [{tokens.min()}, {tokens.max()}]")
        if targets is None:
            return tokens.astype(np.intp, copy=False), None
        targets = np.asarray(targets)
        if targets.shape != tokens.shape or targets.dtype.kind not in "iu":
            raise ValueError(f"model: targets must be an integer array shaped like tokens {tokens.shape}; "
                             f"got {targets.dtype} {targets.shape}")
        if targets.max() >= cfg.vocab_size:
            raise ValueError(f"model: target ids must be < {cfg.vocab_size} (negative = ignored); "
                             f"got {targets.max()}")
        return tokens.astype(np.intp, copy=False), targets.astype(np.intp, copy=False).ravel()

    def _workspace(self, shape: tuple[int, int], keep: bool) -> _Workspace:
        key = (keep, *shape)
        ws = self._workspaces.get(key)
        if ws is None:
            for old in [k for k in self._workspaces if k[0] == keep]:   # one shape per mode at a time
                del self._workspaces[old]
            ws = self._workspaces[key] = _Workspace(self.config, *shape, keep)
        return ws

    def _body(self, ws: _Workspace, tokens: np.ndarray) -> None:
        """Embeddings, the blocks and the final layernorm; ``ws.lnf`` holds the result. ``ready`` brings
        each tensor up to date just before it is read, when a fused ZO optimizer has passes due."""
        p, be, H = self.params, self.backend, self.config.n_head
        ready = p.lazy.ready if p.lazy is not None else _nothing
        B, T = tokens.shape
        be.bind_weights(p)
        ready("wte", "wpe")
        # An optimizer that perturbs wte where it is used hands out the perturbed rows of these tokens.
        wte, ids = p.lazy.embedding(p.wte, tokens) if p.lazy is not None else (p.wte, tokens)
        encoder_forward(ws.encoded.reshape(B, T, -1), ids, wte, p.wpe)
        x = ws.encoded
        for l in range(self.config.n_layer):
            i = l if ws.keep else 0
            ready(f"ln1w[{l}]", f"ln1b[{l}]")
            layernorm_forward(ws.ln1[i], ws.ln1_mean[i], ws.ln1_rstd[i], x, p.ln1w[l], p.ln1b[l])
            ready(f"qkvw[{l}]", f"qkvb[{l}]")
            linear_forward(be, ws.qkv[i], ws.ln1[i], p.qkvw[l], p.qkvb[l], "qkv")
            attention_forward(be, ws.atty[i], ws.att[i], ws.qkv[i], B, T, H)
            ready(f"attprojw[{l}]", f"attprojb[{l}]")
            linear_forward(be, ws.res2[i], ws.atty[i], p.attprojw[l], p.attprojb[l], "attn_proj")
            ws.res2[i] += x
            ready(f"ln2w[{l}]", f"ln2b[{l}]")
            layernorm_forward(ws.ln2[i], ws.ln2_mean[i], ws.ln2_rstd[i], ws.res2[i], p.ln2w[l], p.ln2b[l])
            ready(f"fcw[{l}]", f"fcb[{l}]")
            linear_forward(be, ws.fch[i], ws.ln2[i], p.fcw[l], p.fcb[l], "fc")
            gelu_forward(ws.fch_gelu[i], ws.fch[i])
            # Without keep, res3[0] is also this layer's input x; it is dead once res2 exists.
            ready(f"fcprojw[{l}]", f"fcprojb[{l}]")
            linear_forward(be, ws.res3[i], ws.fch_gelu[i], p.fcprojw[l], p.fcprojb[l], "fc_proj")
            ws.res3[i] += ws.res2[i]
            x = ws.res3[i]
        ready("lnfw", "lnfb")
        layernorm_forward(ws.lnf, ws.lnf_mean, ws.lnf_rstd, x, p.lnfw, p.lnfb)

    def _backward(self, ws: _Workspace, tokens: np.ndarray, g: Params, acc: bool) -> None:
        """From dL/d lnf (in ``ws.dln``, left by the classifier) down to the embeddings."""
        p, be, H, L = self.params, self.backend, self.config.n_head, self.config.n_layer
        B, T = tokens.shape
        dres = ws.dres
        dres.fill(0.0)
        layernorm_backward(dres, g.lnfw, g.lnfb, ws.dln, ws.res3[L - 1], ws.lnf_mean, ws.lnf_rstd, p.lnfw,
                           ws.scratch, acc)
        for l in reversed(range(L)):
            x = ws.res3[l - 1] if l > 0 else ws.encoded
            # MLP
            linear_backward(be, ws.dfch, g.fcprojw[l], g.fcprojb[l], dres, ws.fch_gelu[l], p.fcprojw[l],
                            "fc_proj", acc)
            gelu_backward(ws.dfch, ws.fch[l], ws.scratch4a, ws.scratch4b)
            linear_backward(be, ws.dln, g.fcw[l], g.fcb[l], ws.dfch, ws.ln2[l], p.fcw[l], "fc", acc)
            layernorm_backward(dres, g.ln2w[l], g.ln2b[l], ws.dln, ws.res2[l], ws.ln2_mean[l], ws.ln2_rstd[l],
                               p.ln2w[l], ws.scratch, acc)
            # attention
            linear_backward(be, ws.dln, g.attprojw[l], g.attprojb[l], dres, ws.atty[l], p.attprojw[l],
                            "attn_proj", acc)
            attention_backward(be, ws.dqkv, ws.datt, ws.dln, ws.qkv[l], ws.att[l], B, T, H)
            linear_backward(be, ws.dln, g.qkvw[l], g.qkvb[l], ws.dqkv, ws.ln1[l], p.qkvw[l], "qkv", acc)
            layernorm_backward(dres, g.ln1w[l], g.ln1b[l], ws.dln, x, ws.ln1_mean[l], ws.ln1_rstd[l],
                               p.ln1w[l], ws.scratch, acc)
        encoder_backward(g.wte, g.wpe, dres.reshape(B, T, -1), tokens, acc)
