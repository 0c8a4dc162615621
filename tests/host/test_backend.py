"""Backend: stacked (batched) matmuls, with strided views, accounting and the per-matrix fallback."""

from __future__ import annotations

import numpy as np
import pytest

from zoforge.host.backend import CpuBackend, MatmulBackend


class _PerMatrix(MatmulBackend):
    """A backend that only knows 2-D products (as an accelerator backend would)."""

    def _compute(self, a, b, out, accumulate):
        if accumulate:
            out += a @ b
        else:
            out[...] = a @ b
        return out, True


@pytest.mark.parametrize("backend", [CpuBackend(), _PerMatrix()])
def test_matmul_batched(backend):
    rng = np.random.default_rng(0)
    qkv = rng.standard_normal((2, 5, 3, 4, 6), dtype=np.float32)        # (B, T, 3, H, hs)
    q, k = qkv[:, :, 0].transpose(0, 2, 1, 3), qkv[:, :, 1].transpose(0, 2, 1, 3)
    out = np.zeros((2, 5, 4, 5), np.float32).transpose(0, 2, 1, 3)      # a strided output
    backend.matmul_batched(q, k.swapaxes(-1, -2), out=out, tag="attn_qk")
    expected = np.einsum("bhtd,bhsd->bhts", q, k)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    backend.matmul_batched(q, k.swapaxes(-1, -2), out=out, accumulate=True, tag="attn_qk")
    np.testing.assert_allclose(out, 2 * expected, rtol=1e-5, atol=1e-5)
    s = backend.stats["attn_qk"]
    assert s.calls == 2 and s.flops == 2 * (2.0 * 2 * 4 * 5 * 6 * 5)
    assert s.offloaded_flops == (s.flops if isinstance(backend, _PerMatrix) else 0.0)
    np.testing.assert_allclose(backend.matmul_batched(q, k.swapaxes(-1, -2)), expected, rtol=1e-5, atol=1e-6)


def test_matmul_batched_errors():
    be = CpuBackend()
    with pytest.raises(ValueError, match="do not chain as stacks"):
        be.matmul_batched(np.zeros((2, 3, 4)), np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="needs an `out`"):
        be.matmul_batched(np.zeros((2, 3, 4)), np.zeros((2, 4, 5)), accumulate=True)
