"""The matmul backends by name: ``cpu`` (numpy), ``npu-emu`` (the NPU dataflow emulator) and ``npu``
(a real NPU through XRT). The NPU ones are imported only when asked for.
"""

from __future__ import annotations

from .backend import CpuBackend, MatmulBackend

__all__ = ["BACKEND_NAMES", "get_backend"]

BACKEND_NAMES = ("cpu", "npu-emu", "npu")


def get_backend(name: str, **options) -> MatmulBackend:
    if name == "cpu":
        return CpuBackend(**options)
    if name in ("npu-emu", "npu"):
        from .npu_backend import NpuEmuBackend, NpuXrtBackend
        return (NpuEmuBackend if name == "npu-emu" else NpuXrtBackend)(**options)
    raise ValueError(f"matmul: backend {name!r} is unknown; use one of {'|'.join(BACKEND_NAMES)}")
