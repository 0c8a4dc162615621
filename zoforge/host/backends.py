"""The matmul backends by name: ``cpu`` (numpy), ``npu-emu`` (the NPU dataflow emulator) and ``npu``
(a real NPU through XRT). The NPU ones are imported only when asked for.
"""

from __future__ import annotations

from .backend import CpuBackend, MatmulBackend

__all__ = ["BACKEND_NAMES", "get_backend", "backend_for"]

BACKEND_NAMES = ("cpu", "npu-emu", "npu")


def get_backend(name: str, **options) -> MatmulBackend:
    if name == "cpu":
        return CpuBackend(**options)
    if name in ("npu-emu", "npu"):
        from .npu_backend import NpuEmuBackend, NpuXrtBackend
        return (NpuEmuBackend if name == "npu-emu" else NpuXrtBackend)(**options)
    raise ValueError(f"matmul: backend {name!r} is unknown; use one of {'|'.join(BACKEND_NAMES)}")


def backend_for(matmul: str, npu_design: str | None = None) -> MatmulBackend:
    """The backend of ``--matmul`` and ``--npu-design`` (a gemm spec or preset, npu-emu only); a one-line
    ValueError naming the option otherwise."""
    if npu_design is None:
        return get_backend(matmul)
    if matmul != "npu-emu":
        raise ValueError(f"--npu-design={npu_design!r} applies with --matmul npu-emu (the npu backend reads its "
                         f"design from its build), not --matmul {matmul}")
    from ..golden.spec import SpecError
    try:
        return get_backend(matmul, spec=npu_design)
    except SpecError as e:
        raise ValueError(f"--npu-design={npu_design!r}: {e}") from None
