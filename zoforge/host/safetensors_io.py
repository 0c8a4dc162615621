"""Reading safetensors files with strict validation; writing through the ``safetensors`` package.

The reader is our own (the format is an 8-byte little-endian header length, a JSON header, then the
tensors' bytes) because loading must (a) say exactly what is wrong with a truncated or corrupt file, in
one line naming it, (b) read BF16 tensors, which NumPy has no dtype for, and (c) copy tensors one at a
time out of a memory map instead of holding the whole file twice. Writing uses the reference package.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from dataclasses import dataclass

import numpy as np

__all__ = ["SafetensorsError", "Tensor", "read_header", "to_float32", "dumps", "iter_dump"]

_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
             "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_FLOATS = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
_MAX_HEADER = 100 << 20      # the reference implementation's own limit


class SafetensorsError(ValueError):
    """One line: the file, then what is wrong with it."""


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]
    raw: np.ndarray          # uint8 view of the tensor's bytes (memory-mapped)


def read_header(path: str | os.PathLike) -> dict[str, Tensor]:
    """All tensors of a safetensors file as lazy byte views, after checking that the header is
    well-formed and that the data region is exactly covered (catches truncation and appended junk)."""
    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot read ({e.strerror})") from None
    if size < 8:
        raise SafetensorsError(f"{path}: {size} bytes is too short for a safetensors file (truncated?)")
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > _MAX_HEADER or 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} does not fit the file of {size} bytes "
                                   "(truncated or not safetensors)")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not valid JSON ({e.__class__.__name__}: {e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    data_size = size - 8 - n
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n, shape=(data_size,)) if data_size else \
        np.zeros(0, np.uint8)
    tensors: dict[str, Tensor] = {}
    end_max = 0
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
            raise SafetensorsError(f"{path}: header entry for tensor {name!r} is malformed: {info!r}"[:300])
        need = math.prod(shape) * _ITEMSIZE[dtype]
        if end - begin != need:
            raise SafetensorsError(f"{path}: tensor {name!r} ({dtype} {list(shape)}) needs {need} bytes "
                                   f"but its data_offsets cover {end - begin}")
        if end > data_size:
            raise SafetensorsError(f"{path}: tensor {name!r} ends at byte {end} of the data but the file has "
                                   f"only {data_size} data bytes (truncated)")
        end_max = max(end_max, end)
        tensors[name] = Tensor(dtype, shape, data[begin:end])
    if end_max != data_size:
        raise SafetensorsError(f"{path}: {data_size - end_max} bytes after the last tensor (corrupt or "
                               "not a safetensors file)")
    return tensors


def to_float32(t: Tensor, where: str) -> np.ndarray:
    """The tensor as a float32 array (BF16 widened exactly, F16/F64 converted)."""
    if t.dtype == "BF16":
        wide = np.frombuffer(t.raw, dtype="<u2").astype(np.uint32) << 16
        return wide.view(np.float32).reshape(t.shape)
    if t.dtype not in _FLOATS:
        raise SafetensorsError(f"{where}: dtype {t.dtype} is not a float type (need F32, F16, BF16 or F64)")
    return np.frombuffer(t.raw, dtype=np.dtype(_FLOATS[t.dtype]).newbyteorder("<")).reshape(t.shape) \
        .astype(np.float32)


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
