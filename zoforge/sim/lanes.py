"""Packing and unpacking lane vectors to and from the flat bit vectors simulators see."""

from __future__ import annotations

import numpy as np

__all__ = ["unpack", "pack", "payload_format", "to_array"]


def payload_format(layout) -> tuple[int, int, bool]:
    """(lanes, bits per lane, signed) of an ``ArrayLayout`` stream payload."""
    elem = layout.elem_shape
    return layout.length, elem.width, elem.signed


def unpack(raw: int, lanes: int, bits: int, signed: bool) -> list[int]:
    mask = (1 << bits) - 1
    out = []
    for lane in range(lanes):
        v = (raw >> (lane * bits)) & mask
        if signed and v >> (bits - 1):
            v -= 1 << bits
        out.append(v)
    return out


def pack(values, bits: int) -> int:
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (i * bits) for i, v in enumerate(values))


def to_array(rows: list[list[int]], lanes: int) -> np.ndarray:
    """Rows of lane values as int64 (count, lanes). Unsigned 64-bit words keep their bit pattern
    (two's complement view), the same convention as the golden models use."""
    mask = (1 << 64) - 1
    flat = np.array([v & mask for row in rows for v in row], dtype=np.uint64)
    return flat.view(np.int64).reshape(-1, lanes)
