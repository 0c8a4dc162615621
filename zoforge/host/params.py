"""All GPT-2 parameters in one contiguous float32 vector, with named views.

Why one vector: a zeroth-order optimizer perturbs every weight with one vectorised operation
(``params.data += eps * z``) and PeZO walks its random-number pool across "the weight vector" in a fixed
order; AdamW's moments are two more vectors of the same layout; an llm.c checkpoint is this vector
written as is.

Layout = llm.c's order (``train_gpt2.c``), kind-major: each per-layer kind is one ``(n_layer, ...)``
block, and weight matrices are stored ``(out_features, in_features)`` (so ``y = x @ W.T``):

    wte (Vp, C)        wpe (maxT, C)
    ln1w, ln1b (L, C)  qkvw (L, 3C, C)  qkvb (L, 3C)  attprojw (L, C, C)   attprojb (L, C)
    ln2w, ln2b (L, C)  fcw (L, 4C, C)   fcb (L, 4C)   fcprojw (L, C, 4C)   fcprojb (L, C)
    lnfw, lnfb (C)

``wte`` has the padded vocabulary's rows (Vp); rows >= vocab_size are never read by the model (their
logits are excluded), start at zero and are dropped when saving in the Hugging Face layout. The lm_head
is tied to ``wte`` and has no storage of its own.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator

import numpy as np

from ..limits import check_memory
from .config import NAMES, GPTConfig, num_elements, shapes

__all__ = ["Params", "NAMES", "shapes", "num_elements", "decays"]

#: Tensors that take weight decay (the matrices), MeZO/nanoGPT style; biases and LayerNorm do not.
_DECAYED = frozenset({"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"})
#: Residual-branch output projections, initialised with std 0.02 / sqrt(2 * n_layer) (GPT-2 paper).
_RESIDUAL_PROJ = frozenset({"attprojw", "fcprojw"})
_ONES = frozenset({"ln1w", "ln2w", "lnfw"})
#: Weight versions are unique in the process, so a cache keyed by (memory, version) cannot mistake a new
#: vector that reuses a freed one's memory for the old one.
_VERSIONS = itertools.count(1)


def decays(name: str) -> bool:
    """Whether tensor ``name`` takes weight decay."""
    return name in _DECAYED


class Params:
    """A flat float32 vector ``data`` and its named views (``params.qkvw[l]`` is layer l's matrix).

    The same class holds gradients and optimizer moments: ``Params.zeros(cfg)``.
    """

    def __init__(self, config: GPTConfig, data: np.ndarray | None = None):
        n = num_elements(config)
        if data is None:
            check_memory(4 * n, f"the model {config} ({n:,} numbers)")
            data = np.zeros(n, dtype=np.float32)
        if data.dtype != np.float32 or data.ndim != 1 or data.shape[0] != n or not data.flags.c_contiguous:
            raise ValueError(f"params: data must be a contiguous 1-D float32 array of {n} elements for "
                             f"{config}; got {data.dtype} {data.shape}")
        self.config = config
        self.data = data
        self.version = next(_VERSIONS)
        self.lazy = None        # passes due before a tensor is read (optim.lazy.LazyWeights), if any
        self._slices: dict[str, slice] = {}
        self._views: dict[str, np.ndarray] = {}
        start = 0
        for name, shape in shapes(config).items():
            size = math.prod(shape)
            self._slices[name] = slice(start, start + size)
            self._views[name] = data[start:start + size].reshape(shape)
            start += size
        self._names = tuple(self._slices)
        self._starts = [sl.start for sl in self._slices.values()]
        self._tensor_versions = dict.fromkeys(self._slices, self.version)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def zeros(cls, config: GPTConfig) -> "Params":
        return cls(config)

    @classmethod
    def init(cls, config: GPTConfig, seed: int = 0) -> "Params":
        """GPT-2 initialisation: weights N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
        biases 0, LayerNorm gains 1; wte's padded rows 0. Deterministic in ``seed``."""
        p = cls(config)
        rng = np.random.default_rng(seed)
        proj_std = 0.02 / math.sqrt(2 * config.n_layer)
        for name in NAMES:
            view = p[name]
            if name in _ONES:
                view.fill(1.0)
            elif name in _DECAYED:
                rows = view[:config.vocab_size] if name == "wte" else view
                rng.standard_normal(out=rows, dtype=np.float32)
                rows *= proj_std if name in _RESIDUAL_PROJ else 0.02
        return p

    def copy(self) -> "Params":
        return Params(self.config, self.data.copy())

    def updated(self, names=None) -> None:
        """Declare that ``data`` changed (the optimizers call this after every pass that writes it):
        copies converted from the old values, like an NPU's bf16 weights, are stale. ``names``: only
        those tensors changed (default: all); :meth:`version_at` then tells the others apart."""
        self.version = next(_VERSIONS)
        for name in self._slices if names is None else names:
            self._tensor_versions[name] = self.version

    def version_at(self, offset: int) -> int:
        """The version of the tensor holding element ``offset`` of ``data``: a copy of a weight
        converted at this version is current while it stays the same."""
        name = self._names[bisect.bisect_right(self._starts, offset) - 1]
        return self._tensor_versions[name]

    # -- access ------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[name]

    def __getattr__(self, name: str) -> np.ndarray:
        views = self.__dict__.get("_views")
        if views is not None and name in views:
            return views[name]
        raise AttributeError(name)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        return iter(self._views.items())

    def slice(self, name: str) -> slice:
        """Where tensor ``name`` lives in ``data``."""
        return self._slices[name]

    def __len__(self) -> int:
        return self.data.shape[0]

    def __repr__(self) -> str:
        return f"Params({self.config}, {len(self)} floats)"
