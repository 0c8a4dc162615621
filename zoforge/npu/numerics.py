"""bf16 and the device dtypes.

bf16 is stored as its 16-bit pattern (uint16), exactly the bytes the NPU reads. fp32 -> bf16 rounds to
nearest, ties to even (RNE) through ``ml_dtypes.bfloat16``, as C++23 ``std::bfloat16_t`` on the host
does; ``trunc`` drops the low 16 bits (round toward zero), for kernels that do not set ``conv_even``
(docs/references.md#npu-bf16-rounding).
NaN stays NaN, quiet, with its sign and top payload bits (ml_dtypes would make every NaN the canonical
one); infinities stay infinite.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

__all__ = ["to_bf16", "from_bf16", "round_bf16", "STORAGE", "to_device", "from_device"]

# numpy storage of each device dtype
STORAGE = {"bf16": np.uint16, "f32": np.float32, "i8": np.int8, "i16": np.int16, "i32": np.int32}


def to_bf16(x, rounding: str = "rne") -> np.ndarray:
    """float32 values -> bf16 bit patterns (uint16)."""
    f = np.ascontiguousarray(x, dtype=np.float32)
    high = (f.view(np.uint32) >> 16).astype(np.uint16)
    if rounding == "rne":
        with np.errstate(invalid="ignore"):             # NaN inputs are handled below
            out = f.astype(ml_dtypes.bfloat16).view(np.uint16)
    elif rounding == "trunc":
        out = high
    else:
        raise ValueError(f"bf16: rounding={rounding!r} must be rne|trunc")
    nan = np.isnan(f)
    if nan.any():
        out = np.where(nan, high | np.uint16(0x0040), out)
    return out


def from_bf16(bits) -> np.ndarray:
    """bf16 bit patterns -> float32 (exact)."""
    return np.asarray(bits, dtype=np.uint16).view(ml_dtypes.bfloat16).astype(np.float32)


def round_bf16(x, rounding: str = "rne") -> np.ndarray:
    """float32 -> nearest bf16 value, as float32."""
    return from_bf16(to_bf16(x, rounding))


def to_device(x: np.ndarray, dtype: str, rounding: str = "rne") -> np.ndarray:
    """Host values -> the device's storage of ``dtype``; integers must fit (no silent wrap)."""
    if dtype == "bf16":
        return to_bf16(x, rounding)
    kind = STORAGE[dtype]
    if np.issubdtype(kind, np.integer):
        x = np.asarray(x)
        info = np.iinfo(kind)
        if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < info.min or x.max() > info.max)):
            raise ValueError(f"{dtype}: values must be integers in [{info.min}, {info.max}]")
    return np.ascontiguousarray(x, dtype=kind)


def from_device(x: np.ndarray, dtype: str) -> np.ndarray:
    """Device storage -> float32 (bf16, f32) or int32/int64 values."""
    return from_bf16(x) if dtype == "bf16" else np.asarray(x)
