"""Packing and unpacking lane vectors to and from the flat bit vectors simulators see."""

from __future__ import annotations

import numpy as np

__all__ = ["unpack", "pack", "payload_format"]


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
    return np.array(rows, dtype=np.int64).reshape(-1, lanes)
