"""Reading and writing safetensors files with the reference ``safetensors`` package.

Reading goes through :func:`safetensors.safe_open`: the file is memory-mapped and each tensor is copied
out on its own when asked for, so a checkpoint is never held twice. BF16 tensors arrive as
``ml_dtypes.bfloat16`` arrays (importing ``ml_dtypes`` gives NumPy that dtype) and widen exactly to
float32. When the package refuses a file, :func:`_why` reads the header once more to say in one line what
is wrong (truncated, appended bytes, a malformed entry), naming the file.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from dataclasses import dataclass

import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy, which safe_open uses for BF16 tensors)
import numpy as np
from safetensors import SafetensorError, safe_open

__all__ = ["SafetensorsError", "Tensor", "read_header", "to_float32", "dumps", "iter_dump"]

_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
             "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_FLOATS = ("F32", "F16", "BF16", "F64")
_MAX_HEADER = 100 << 20      # the reference implementation's own limit


class SafetensorsError(ValueError):
    """One line: the file, then what is wrong with it."""


@dataclass(frozen=True)
class Tensor:
    """One tensor of an open file: its dtype name (``F32``, ``BF16`` ...) and shape; read on demand."""
    dtype: str
    shape: tuple[int, ...]
    file: object             # the safe_open handle (keeps the memory map alive)
    name: str


def read_header(path: str | os.PathLike) -> dict[str, Tensor]:
    """All tensors of a safetensors file, not yet read; the package checks that the header is well-formed
    and that the data region is exactly covered (catches truncation and appended junk)."""
    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot read ({e.strerror})") from None
    try:
        f = safe_open(path, framework="numpy")
    except (SafetensorError, OSError) as e:
        raise SafetensorsError(f"{path}: {_why(path, size) or e}") from None
    tensors = {}
    for name in f.keys():
        piece = f.get_slice(name)
        tensors[name] = Tensor(piece.get_dtype(), tuple(piece.get_shape()), f, name)
    return tensors


def to_float32(t: Tensor, where: str) -> np.ndarray:
    """The tensor as a float32 array (BF16 widened exactly, F16/F64 converted)."""
    if t.dtype not in _FLOATS:
        raise SafetensorsError(f"{where}: dtype {t.dtype} is not a float type (need F32, F16, BF16 or F64)")
    return t.file.get_tensor(t.name).astype(np.float32, copy=False)


def _why(path: pathlib.Path, size: int) -> str | None:
    """What is wrong with a file safe_open refused, in our words; None to keep the package's."""
    if size < 8:
        return f"{size} bytes is too short for a safetensors file (truncated?)"
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > _MAX_HEADER or 8 + n > size:
            return f"header length {n} does not fit the file of {size} bytes (truncated or not safetensors)"
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return f"header is not valid JSON ({e.__class__.__name__}: {e})"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    data_size, end_max = size - 8 - n, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            ok = (dtype in _ITEMSIZE and all(isinstance(d, int) and d >= 0 for d in shape)
                  and isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            return f"header entry for tensor {name!r} is malformed: {info!r}"[:300]
        need = math.prod(shape) * _ITEMSIZE[dtype]
        if end - begin != need:
            return f"tensor {name!r} ({dtype} {list(shape)}) needs {need} bytes but its data_offsets cover " \
                   f"{end - begin}"
        if end > data_size:
            return f"tensor {name!r} ends at byte {end} of the data but the file has only {data_size} data bytes " \
                   "(truncated)"
        end_max = max(end_max, end)
    if end_max != data_size:
        return f"{data_size - end_max} bytes after the last tensor (corrupt or not a safetensors file)"
    return None


def dumps(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """Serialise float32 arrays (made contiguous) with the reference ``safetensors`` package."""
    from safetensors.numpy import save
    return save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, metadata=metadata)


def iter_dump(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None):
    """The safetensors bytes of float32 ``tensors`` as a sequence of pieces: the header, then each tensor
    (sorted by name, made contiguous one at a time). For :func:`zoforge.atomic.write_chunks`."""
    names = sorted(tensors)
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name in names:
        t = tensors[name]
        size = t.size * 4
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)                  # the data starts 8-byte aligned, as the reference pads
    yield len(raw).to_bytes(8, "little") + raw
    for name in names:
        yield memoryview(np.ascontiguousarray(tensors[name], dtype="<f4")).cast("B")
