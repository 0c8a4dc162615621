"""Access patterns: the (sizes, strides) address generators of NPU DMAs and IRON's TensorAccessPatterns.

Lists are outermost first and count elements of the buffer's dtype, as in IRON
(docs/references.md#npu-access-patterns): address = offset + sum(idx_i * stride_i), iterated like
nested for-loops. The emulator moves data with :meth:`Pattern.indices`, the validator reads the same
object, the IRON lowering prints it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Pattern"]


@dataclass(frozen=True)
class Pattern:
    sizes: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if len(self.sizes) != len(self.strides) or not self.sizes:
            raise ValueError(f"pattern: {len(self.sizes)} sizes but {len(self.strides)} strides")

    @property
    def length(self) -> int:
        return math.prod(self.sizes)

    @property
    def max_index(self) -> int:
        """Largest address the pattern touches (the verifier's bound, plus the offset)."""
        return self.offset + sum(st * (sz - 1) for sz, st in zip(self.sizes, self.strides))

    @property
    def dims(self) -> list[tuple[int, int]]:
        """IRON's ``dims_to_stream`` form: [(size, stride), ...]."""
        return list(zip(self.sizes, self.strides))

    def extended(self, length: int) -> "Pattern":
        """The pattern a BD really runs when it moves ``length`` elements: hardware has no wrap register
        for the outermost dimension and keeps incrementing it until the length is reached
        (docs/references.md#npu-bd-limits)."""
        inner = math.prod(self.sizes[1:])
        if length % inner:
            raise ValueError(f"pattern {self}: a length of {length} elements is not a whole number of "
                             f"its inner dimensions ({inner} elements)")
        return Pattern((length // inner,) + self.sizes[1:], self.strides, self.offset)

    def indices(self) -> np.ndarray:
        """Every address in issue order (int64, vectorised)."""
        return _indices(self.sizes, self.strides, self.offset)

    def __str__(self) -> str:
        return f"sizes={list(self.sizes)} strides={list(self.strides)} offset={self.offset}"


@functools.lru_cache(maxsize=64)
def _indices(sizes: tuple[int, ...], strides: tuple[int, ...], offset: int) -> np.ndarray:
    idx = np.full((1,) * len(sizes), offset, dtype=np.int64)
    for axis, (size, stride) in enumerate(zip(sizes, strides)):
        shape = [1] * len(sizes)
        shape[axis] = size
        idx = idx + (np.arange(size, dtype=np.int64) * stride).reshape(shape)
    out = idx.reshape(-1)
    out.flags.writeable = False        # cached: callers must not modify
    return out
