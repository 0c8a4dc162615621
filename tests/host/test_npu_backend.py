"""Matmul backends npu-emu and npu: offload of served shapes, CPU fallback, += accumulation."""

import numpy as np
import pytest

from zoforge.errors import ToolError
from zoforge.host.backends import get_backend
from zoforge.host.npu_backend import NpuEmuBackend, NpuXrtBackend, XrtMissing
from zoforge.npu.emulator import error_bound, reference

SMALL = "gemm:cols=2,rows=2,m=32,k=32,n=32"


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def test_registered():
    assert isinstance(get_backend("npu-emu", spec=SMALL), NpuEmuBackend)


def test_forward_with_a_transposed_weight_view_matches_numpy():
    be = get_backend("npu-emu", spec=SMALL)
    x, w = rand((128, 64), 0), rand((192, 64), 1)       # llm.c: out = x @ W^T, W is (OC, C)
    y = be.matmul(x, w.T, tag="fwd")
    assert np.abs(y - reference(be.spec, x, w.T)).max() <= error_bound(be.spec, x, w.T).max()
    assert np.allclose(y, x @ w.T, rtol=2e-2, atol=2e-2 * np.sqrt(64))       # bf16 inputs vs fp32
    s = be.stats["fwd"]
    assert s.calls == 1 and s.offloaded_flops == s.flops == 2 * 128 * 64 * 192


def test_backward_accumulates_and_unserved_shapes_fall_back():
    be = NpuEmuBackend(spec=SMALL)
    dout, inp = rand((128, 64), 2), rand((128, 128), 3)
    dw = np.ones((64, 128), np.float32)
    be.matmul(dout.T, inp, out=dw, accumulate=True, tag="dw")          # dW += dout^T @ inp
    assert np.allclose(dw, 1 + dout.T @ inp, rtol=2e-2, atol=0.3)
    fixed = NpuEmuBackend(spec=SMALL, shapes="128x64x64")
    odd = fixed.matmul(rand((100, 64), 4), rand((64, 128), 5), tag="odd")   # runs as 128x64x128: not listed
    assert odd.shape == (100, 128) and fixed.stats["odd"].offloaded_flops == 0
    fixed.matmul(rand((128, 64), 4), rand((64, 64), 5), tag="even")
    total = fixed.total()
    assert 0 < total.offloaded_flops < total.flops


def test_shapes_off_the_blocks_run_transposed_or_padded():
    """Every product reaches the array: C^T = B^T @ A^T when that divides (GPT-2's LM-head weight
    gradient), else zero padding; the result equals the reference within the emulator's bound."""
    be = NpuEmuBackend(spec="npu1-gpt2")                   # blocks: M 256, K 128, N 128
    for (M, K, N), seed in (((384, 128, 256), 6), ((100, 40, 70), 7)):
        a, b = rand((M, K), seed), rand((K, N), seed + 1)
        out = np.full((M, N), 0.5, np.float32)
        be.matmul(a, b, out=out, accumulate=True, tag=f"{M}")
        assert np.abs(out - 0.5 - reference(be.spec, a, b)).max() <= error_bound(be.spec, a, b).max() + 1e-6
        assert be.stats[f"{M}"].offloaded_flops == 2 * M * K * N
    assert be._route((384, 128, 256)) == ((256, 128, 384), True)
    assert be._route((100, 40, 70)) == ((256, 128, 128), False)


def test_fixed_shape_list_is_respected():
    be = NpuEmuBackend(spec=SMALL, shapes="128x64x64")
    be.matmul(rand((128, 64), 0), rand((64, 64), 1), tag="a")
    be.matmul(rand((128, 128), 0), rand((128, 64), 1), tag="b")
    assert be.stats["a"].offloaded_flops > 0 and be.stats["b"].offloaded_flops == 0


def test_batched_products_stay_on_the_cpu():
    be = NpuEmuBackend(spec=SMALL)
    a, b = rand((3, 64, 64), 0), rand((3, 64, 64), 1)
    out = be.matmul_batched(a, b)
    assert np.allclose(out, a @ b, rtol=1e-5, atol=1e-5) and be.total().offloaded_flops == 0


def test_npu_without_xrt_fails_with_one_line(tmp_path):
    try:
        import pyxrt  # noqa: F401
        pytest.skip("pyxrt is installed")
    except ImportError:
        pass
    with pytest.raises(XrtMissing) as e:
        NpuXrtBackend(build=str(tmp_path))
    assert isinstance(e.value, ToolError) and "\n" not in str(e.value) and "pyxrt" in str(e.value)
    with pytest.raises(ToolError):
        get_backend("npu", build=str(tmp_path))
