"""Resident weights on the NPU path: converted once per update, reused otherwise, never stale.

Runs on npu-emu, whose host side (zoforge/host/npu_buffers.py) is the one the real `npu` backend uses."""

import numpy as np

from zoforge.host.backends import get_backend
from zoforge.host.config import parse_config
from zoforge.host.model import GPT
from zoforge.host.optim import build
from zoforge.host.params import Params
from zoforge.npu.emulator import NpuEmulator

SMALL = "gemm:cols=2,rows=2,m=32,k=32,n=32"
# 2 layers, 64 channels: every block matmul and the LM head (vocab 256) divide into SMALL's blocks
MODEL = "gpt:n_layer=2,n_head=2,n_embd=64,vocab_size=256,block_size=32"
WEIGHT_MATRICES = 2 * 4 + 1          # qkv, attproj, fc, fcproj per layer, and wte (tied LM head)


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def batch(seed=0):
    tokens = np.random.default_rng(seed).integers(0, 256, (2, 32))
    return tokens, np.roll(tokens, -1, axis=1)


def test_resident_weight_gives_the_bits_of_a_per_call_conversion():
    """The fused conversion into resident buffers computes exactly what converting both operands on
    every call computes (the emulator's own host path), also transposed and padded."""
    be = get_backend("npu-emu", spec=SMALL)
    params = Params(parse_config(MODEL))
    params.data[:] = rand(params.data.shape, 0)
    be.bind_weights(params)
    w = params.qkvw[0]                                   # (192, 64)
    emu = NpuEmulator(be.spec)
    for x, b in ((rand((128, 64), 1), w.T), (rand((128, 192), 2), w), (rand((100, 64), 3), w.T)):
        got = be.matmul(x, b, tag="t")
        want = be.matmul(x, b.copy(), tag="t")     # an activation: converted per call
        assert np.array_equal(got, want)
        if x.shape[0] == 128:
            assert np.array_equal(got, emu.run(x, b.copy())[0])
    # W^T and W are two layouts; the padded 100-row call finds W^T's buffer already filled
    assert be.host_work.weight_conversions == 2 and be.host_work.weight_hits == 1


def test_no_update_no_conversion_and_every_update_refreshes():
    cfg = parse_config(MODEL)
    be = get_backend("npu-emu", spec=SMALL)
    model = GPT(cfg, backend=be, seed=1)
    tokens, targets = batch()
    first = model.forward(tokens, targets)
    work = be.host_work
    assert work.weight_conversions == WEIGHT_MATRICES
    again = model.forward(tokens, targets)
    assert again == first and work.weight_conversions == WEIGHT_MATRICES         # nothing reconverted
    assert work.weight_hits == WEIGHT_MATRICES and work.activation_elems > 0

    # forward + backward uses every weight in two layouts (W^T forward, W for dinp): two buffers each
    model.forward_backward(tokens, targets)
    assert work.weight_conversions == 2 * WEIGHT_MATRICES
    opt = build("adamw", model.params)
    opt.step(model.grads, 1e-3)
    before = work.weight_conversions
    updated = model.forward(tokens, targets)
    assert work.weight_conversions == before + WEIGHT_MATRICES           # refreshed after the update
    fresh = GPT(cfg, model.params, backend=get_backend("npu-emu", spec=SMALL)).forward(tokens, targets)
    assert updated == fresh != first


def test_a_stale_cache_would_change_the_result():
    """Negative control: weights changed without ``updated()`` keep their old bf16 copies, and the loss
    then differs from a fresh backend's; the version bump is what keeps the cache honest."""
    cfg = parse_config(MODEL)
    model = GPT(cfg, backend=get_backend("npu-emu", spec=SMALL), seed=2)
    tokens, targets = batch(1)
    model.forward(tokens, targets)
    model.params.qkvw[...] *= 1.5                         # no updated(): the cache cannot know
    stale = model.forward(tokens, targets)
    fresh = GPT(cfg, model.params, backend=get_backend("npu-emu", spec=SMALL)).forward(tokens, targets)
    assert stale != fresh
    model.params.updated()
    assert model.forward(tokens, targets) == fresh


def test_a_zo_step_converts_the_weights_once_per_forward():
    """ZO-SGD writes the weights three times per query (+eps, -2 eps, restore + update); the two
    forwards each find a new version and convert once, in the forward layout only."""
    cfg = parse_config(MODEL)
    be = get_backend("npu-emu", spec=SMALL)
    model = GPT(cfg, backend=be, seed=3)
    tokens, targets = batch(2)
    opt = build("pezo", model.params, eps=1e-3)
    version = model.params.version
    opt.step(lambda: model.forward(tokens, targets), 0, 1e-4)
    assert model.params.version != version
    assert be.host_work.weight_conversions == 2 * WEIGHT_MATRICES
    assert be.host_work.weight_hits == 0
    loss = model.forward(tokens, targets)                # after restore + update: converted again
    assert be.host_work.weight_conversions == 3 * WEIGHT_MATRICES
    assert loss == GPT(cfg, model.params, backend=get_backend("npu-emu", spec=SMALL)).forward(tokens, targets)


def test_another_weight_vector_does_not_see_the_first_ones_copies():
    cfg = parse_config(MODEL)
    be = get_backend("npu-emu", spec=SMALL)
    tokens, targets = batch(3)
    a = GPT(cfg, backend=be, seed=4).forward(tokens, targets)
    b = GPT(cfg, backend=be, seed=5).forward(tokens, targets)
    assert a != b == GPT(cfg, backend=get_backend("npu-emu", spec=SMALL), seed=5).forward(tokens, targets)
