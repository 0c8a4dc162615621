"""GPT-2 layers as free functions, forward and backward, numpy float32, llm.c style.

Dimensions: B batch, T time, C channels, H heads, hs = C / H, N = B * T rows, V vocabulary, Vp padded.
Every function writes into arrays the caller owns (``out=`` style) so a step allocates nothing large;
every matrix product goes through ``backend`` with a tag naming the layer kind. Weight matrices are
``(out_features, in_features)``; gradients are written (``acc=False``) or added (``acc=True``, for
gradient accumulation over micro-batches).

Python scalars are used for constants on purpose: with NumPy 2 they do not promote float32 to float64.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .backend import MatmulBackend
from .config import LN_EPS

__all__ = ["encoder_forward", "encoder_backward", "layernorm_forward", "layernorm_backward",
           "linear_forward", "linear_backward", "attention_forward", "attention_backward",
           "gelu_forward", "gelu_backward", "classifier"]


def _put(dst: np.ndarray, value: np.ndarray, acc: bool) -> None:
    if acc:
        dst += value
    else:
        dst[...] = value


# ----------------------------------------------------------------------------------------------------
# encoder: token + position embeddings

def encoder_forward(out: np.ndarray, tokens: np.ndarray, wte: np.ndarray, wpe: np.ndarray) -> None:
    """out (B, T, C) = wte[tokens] + wpe[:T]."""
    np.take(wte, tokens, axis=0, out=out)
    out += wpe[:tokens.shape[1]]


def encoder_backward(dwte: np.ndarray, dwpe: np.ndarray, dout: np.ndarray, tokens: np.ndarray,
                     acc: bool) -> None:
    """dwte[tokens] += dout (always adds: the lm_head wrote dwte first); dwpe (+)= sum over batch."""
    T = tokens.shape[1]
    d = dout.reshape(-1, dout.shape[-1])
    # A row loop beats np.add.at here (repeated tokens must add up; 256 rows take ~0.2 ms).
    for row, tok in enumerate(tokens.ravel().tolist()):
        dwte[tok] += d[row]
    if not acc:
        dwpe[T:] = 0.0
    _put(dwpe[:T], dout.sum(axis=0), acc)


# ----------------------------------------------------------------------------------------------------
# layernorm (over the last axis, eps 1e-5)

def layernorm_forward(out: np.ndarray, mean: np.ndarray, rstd: np.ndarray,
                      x: np.ndarray, w: np.ndarray, b: np.ndarray) -> None:
    """out (N, C) = (x - mean) * rstd * w + b; keeps mean and rstd (N,) for the backward."""
    C = x.shape[-1]
    np.mean(x, axis=-1, out=mean)
    np.subtract(x, mean[:, None], out=out)
    np.einsum("ij,ij->i", out, out, out=rstd)          # sum of squares, no (N, C) temporary
    rstd *= 1.0 / C
    rstd += LN_EPS
    np.sqrt(rstd, out=rstd)
    np.reciprocal(rstd, out=rstd)
    out *= rstd[:, None]
    out *= w
    out += b


def layernorm_backward(dx: np.ndarray, dw: np.ndarray, db: np.ndarray, dout: np.ndarray,
                       x: np.ndarray, mean: np.ndarray, rstd: np.ndarray, w: np.ndarray,
                       scratch: np.ndarray, acc: bool) -> None:
    """dx += d/dx (always adds: dx is the residual stream's gradient); dw, db (+)=.
    Overwrites ``dout`` and ``scratch`` (both (N, C))."""
    C = x.shape[-1]
    norm = np.subtract(x, mean[:, None], out=scratch)
    norm *= rstd[:, None]
    _put(dw, np.einsum("ij,ij->j", dout, norm), acc)
    _put(db, dout.sum(axis=0), acc)
    dnorm = np.multiply(dout, w, out=dout)
    # dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
    mean_d = dnorm.mean(axis=-1)
    mean_dn = np.einsum("ij,ij->i", dnorm, norm)
    mean_dn *= 1.0 / C
    dnorm -= mean_d[:, None]
    norm *= mean_dn[:, None]
    dnorm -= norm
    dnorm *= rstd[:, None]
    dx += dnorm


# ----------------------------------------------------------------------------------------------------
# linear: y = x @ W.T + b

def linear_forward(backend: MatmulBackend, out: np.ndarray, x: np.ndarray, w: np.ndarray,
                   b: np.ndarray | None, tag: str) -> None:
    backend.matmul(x, w.T, out=out, tag=tag)
    if b is not None:
        out += b


def linear_backward(backend: MatmulBackend, dx: np.ndarray | None, dw: np.ndarray, db: np.ndarray | None,
                    dout: np.ndarray, x: np.ndarray, w: np.ndarray, tag: str, acc: bool) -> None:
    """dx = dout @ W (overwritten); dW (+)= dout.T @ x; db (+)= sum of dout over rows."""
    if dx is not None:
        backend.matmul(dout, w, out=dx, tag=tag)
    backend.matmul(dout.T, x, out=dw, accumulate=acc, tag=tag)
    if db is not None:
        if acc:
            db += dout.sum(axis=0)
        else:
            np.sum(dout, axis=0, out=db)


# ----------------------------------------------------------------------------------------------------
# causal self-attention on a fused qkv (N, 3C): columns [q | k | v], each split into H heads

def _heads(a: np.ndarray, B: int, T: int, H: int, parts: int) -> tuple[np.ndarray, ...]:
    """Views (B, H, T, hs) of the ``parts`` C-wide column blocks of ``a`` (N, parts*C); no copies."""
    hs = a.shape[-1] // (parts * H)
    v = a.reshape(B, T, parts, H, hs)
    return tuple(v[:, :, i].transpose(0, 2, 1, 3) for i in range(parts))


@functools.lru_cache(maxsize=8)
def _causal_mask(T: int) -> np.ndarray:
    """(T, T): 0 on and below the diagonal, -inf above (read-only, shared between calls)."""
    mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), k=1)
    mask.flags.writeable = False
    return mask


def attention_forward(backend: MatmulBackend, out: np.ndarray, att: np.ndarray, qkv: np.ndarray,
                      B: int, T: int, H: int) -> None:
    """out (N, C) = softmax(q k^T / sqrt(hs) + causal mask) v, heads side by side;
    att (B, H, T, T) keeps the probabilities for the backward."""
    q, k, v = _heads(qkv, B, T, H, 3)
    scale = 1.0 / math.sqrt(q.shape[-1])
    backend.matmul_batched(q, k.swapaxes(-1, -2), out=att, tag="attn_qk")
    att += _causal_mask(T)
    att -= att.max(axis=-1, keepdims=True)
    att *= scale                                       # exp(scale * (s - max)) = softmax of scaled s
    np.exp(att, out=att)
    att *= 1.0 / att.sum(axis=-1, keepdims=True)
    (y,) = _heads(out, B, T, H, 1)
    backend.matmul_batched(att, v, out=y, tag="attn_av")


def attention_backward(backend: MatmulBackend, dqkv: np.ndarray, datt: np.ndarray, dout: np.ndarray,
                       qkv: np.ndarray, att: np.ndarray, B: int, T: int, H: int) -> None:
    """dqkv (N, 3C) overwritten from dout (N, C); ``datt`` (B, H, T, T) is scratch."""
    q, k, v = _heads(qkv, B, T, H, 3)
    dq, dk, dv = _heads(dqkv, B, T, H, 3)
    (dy,) = _heads(dout, B, T, H, 1)
    scale = 1.0 / math.sqrt(q.shape[-1])
    backend.matmul_batched(att.swapaxes(-1, -2), dy, out=dv, tag="attn_av")
    backend.matmul_batched(dy, v.swapaxes(-1, -2), out=datt, tag="attn_av")
    # softmax backward: dpre = att * (datt - sum(datt * att)); masked entries have att = 0
    datt -= np.einsum("bhij,bhij->bhi", datt, att)[..., None]
    datt *= att
    datt *= scale
    backend.matmul_batched(datt, k, out=dq, tag="attn_qk")
    backend.matmul_batched(datt.swapaxes(-1, -2), q, out=dk, tag="attn_qk")


# ----------------------------------------------------------------------------------------------------
# GELU, tanh approximation (GPT-2's "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

_GELU_A = math.sqrt(2.0 / math.pi)
_GELU_B = _GELU_A * 0.044715


def _gelu_tanh(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    np.multiply(x, x, out=out)
    out *= _GELU_B
    out += _GELU_A
    out *= x
    return np.tanh(out, out=out)


def gelu_forward(out: np.ndarray, x: np.ndarray) -> None:
    t = _gelu_tanh(out, x)
    t += 1.0
    t *= x
    t *= 0.5


def gelu_backward(dx: np.ndarray, x: np.ndarray, scratch: np.ndarray, scratch2: np.ndarray) -> None:
    """dx *= gelu'(x) in place (dx holds dL/d gelu(x) on entry); ``scratch``/``scratch2`` are like x."""
    # gelu'(x) = 0.5 (1 + t) + w (1 - t^2) with t = tanh(A x + B x^3), w = 0.5 x (A + 3 B x^2)
    #          = (1 + t) (0.5 + w (1 - t))        (factored: two buffers, no temporaries)
    s = _gelu_tanh(scratch, x)
    np.subtract(1.0, s, out=s)                      # 1 - t
    w = np.multiply(x, x, out=scratch2)
    w *= 3.0 * _GELU_B
    w += _GELU_A
    w *= x
    w *= 0.5
    w *= s
    w += 0.5
    np.subtract(2.0, s, out=s)                      # 1 + t
    w *= s
    dx *= w


# ----------------------------------------------------------------------------------------------------
# classifier: tied lm_head over the padded vocabulary + softmax cross-entropy, fused

def classifier(backend: MatmulBackend, x: np.ndarray, wte: np.ndarray, targets: np.ndarray,
               vocab_size: int, logits: np.ndarray, *, dx: np.ndarray | None = None,
               dwte: np.ndarray | None = None, acc: bool = False) -> float:
    """Mean cross-entropy of ``x (N, C) @ wte.T`` against ``targets (N,)``; negative targets are ignored
    (prompt tokens of a classification example). Logits of the padded columns (>= vocab_size) take no
    part. Rows go in chunks of ``logits.shape[0]`` through the one ``logits (R, Vp)`` buffer, so the
    whole (N, Vp) matrix need not exist. With ``dx``/``dwte`` the backward runs in the same pass:
    the buffer turns into dlogits, dx (N, C) is written and dwte (+)= dlogits.T @ x."""
    N, V, R = x.shape[0], vocab_size, logits.shape[0]
    valid_all = targets >= 0
    n_valid = int(np.count_nonzero(valid_all))
    if n_valid == 0:
        raise ValueError("loss: every target is ignored (negative), so there is nothing to average")
    inv_n = 1.0 / n_valid
    total = 0.0
    for start in range(0, N, R):
        stop = min(start + R, N)
        lg = logits[:stop - start]
        backend.matmul(x[start:stop], wte.T, out=lg, tag="lm_head")
        lv = lg[:, :V]
        valid = valid_all[start:stop]
        rows = np.flatnonzero(valid)
        cols = targets[start:stop][rows]
        picked = lg[rows, cols]                          # a copy, taken before lg is overwritten
        top = lv.max(axis=1)
        lv -= top[:, None]
        np.exp(lv, out=lv)
        norm = lv.sum(axis=1)
        total += float(np.sum(np.log(norm[rows]) + top[rows] - picked, dtype=np.float64))
        if dx is None:
            continue
        # dlogits = (softmax - onehot) / n_valid on valid rows, 0 on ignored rows and padded columns
        lv *= np.where(valid, inv_n / norm, 0.0).astype(np.float32)[:, None]
        lg[rows, cols] -= inv_n
        lg[:, V:] = 0.0
        backend.matmul(lg, wte, out=dx[start:stop], tag="lm_head")
        backend.matmul(lg.T, x[start:stop], out=dwte, accumulate=acc or start > 0, tag="lm_head")
    return total * inv_n
