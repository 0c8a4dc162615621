"""The trainable part of the flat parameter vector, as segments: what optimizers walk and perturb.

A *segment* is one Hugging Face tensor: ``wte`` (its real rows only: the padded rows are never read by
the model, never perturbed or updated, and stay zero), ``wpe``, the per-layer tensors (``qkvw[l]`` ...)
and the final LayerNorm. Segments follow storage order (:mod:`zoforge.host.params`, llm.c's kind-major
order), so each one is a contiguous slice of ``Params.data``.

Two index spaces sit on top of storage:

* the *trainable vector*: the segments concatenated (storage minus wte's padding), used by MeZO's
  Gaussian blocks;
* a hardware *stream* with ``lanes`` numbers per word: segments concatenated with each one starting on a
  word boundary (:meth:`Layout.stream_offsets`), so a per-tensor scale can change between words. For
  every GPT-2 shape with ``n_embd`` a multiple of ``lanes`` the two coincide.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property

from ..config import GPTConfig
from ..params import decays, shapes

__all__ = ["Segment", "Layout"]

_PER_LAYER_ROOT = frozenset({"wte", "wpe", "lnfw", "lnfb"})     # the tensors that are not per layer


@dataclass(frozen=True)
class Segment:
    name: str        # "wte", "qkvw[3]" ...
    start: int       # offset in Params.data
    length: int
    decay: bool      # takes weight decay (matrices and embeddings; not biases or LayerNorm)
    offset: int      # offset in the trainable vector

    @property
    def stop(self) -> int:
        return self.start + self.length


class Layout:
    """Segments of one model shape (cached per config)."""

    def __init__(self, config: GPTConfig):
        self.config = config
        segs, storage, offset = [], 0, 0
        for name, shape in shapes(config).items():
            size = math.prod(shape)
            if name == "wte":
                real = config.vocab_size * config.n_embd
                segs.append(Segment(name, storage, real, decays(name), offset))
                offset += real
            elif name in _PER_LAYER_ROOT:
                segs.append(Segment(name, storage, size, decays(name), offset))
                offset += size
            else:
                per = size // shape[0]
                for l in range(shape[0]):
                    segs.append(Segment(f"{name}[{l}]", storage + l * per, per, decays(name), offset))
                    offset += per
            storage += size
        self.segments: tuple[Segment, ...] = tuple(segs)
        self.size = offset

    def stream_offsets(self, lanes: int) -> tuple[int, ...]:
        """Stream position of each segment's first element: segments start on word boundaries."""
        out, pos = [], 0
        for s in self.segments:
            out.append(pos)
            pos += -(-s.length // lanes) * lanes
        return tuple(out)

    def stream_length(self, lanes: int) -> int:
        """Stream elements one perturbation of the whole vector consumes (a whole number of words)."""
        return sum(-(-s.length // lanes) * lanes for s in self.segments)

    def pieces(self, lo: int, hi: int):
        """(segment, first, last) for the parts of trainable positions [lo, hi): elements
        ``first .. last-1`` of each overlapping segment."""
        k = max(0, bisect.bisect_right(self._offsets, lo) - 1)
        for s in self.segments[k:]:
            if s.offset >= hi:
                break
            a, b = max(lo, s.offset), min(hi, s.offset + s.length)
            if a < b:
                yield s, a - s.offset, b - s.offset

    @cached_property
    def _offsets(self) -> list[int]:
        return [s.offset for s in self.segments]
