"""Where each zeroth-order query of a run reads the random-number stream, and with which seed.

A *query* is one perturbation of the whole trained vector: ``stream_length`` consecutive elements of
the source's stream (a whole number of words). Query ``index`` of a run (``step * queries + i``) is:

* a pool (``pezo`` with reuse=pool): the pool continues where the previous query stopped, modulo the
  pool, so the hardware replays it with ``start`` (a whole row, as ``stream_length`` is whole words).
  ``refresh=0``: the pool filled at reset (seed ``None``), start ``index * stream_length mod pool``.
  ``refresh=R``: block ``b = index // R`` fills the pool from seed ``query_seed(run_seed, b, 0)``
  (a seed transfer, which refills it), and the start continues inside the block from element 0.
* any other source: a new seed for every query, ``query_seed(run_seed, step, i)``, from element 0.

The host optimizer and the engine trainer both ask :func:`query_position`; nothing else decides it.

Members
-------
query_seed(run_seed, step, index)                           64-bit seed of query ``index`` of ``step``
lfsr_seed(spec, seed)                                       that seed as the source's LFSR seed word
query_position(spec, index, stream_length, run_seed, queries=1)  (LFSR seed or None, start element)
"""

from __future__ import annotations

import numpy as np

__all__ = ["query_seed", "lfsr_seed", "query_position"]


def query_seed(run_seed: int, step: int, index: int) -> int:
    """The 64-bit seed of query ``index`` of step ``step`` (a pure function: resume needs only the step)."""
    a, b = np.random.SeedSequence([run_seed, step, index]).generate_state(2, np.uint32)
    return (int(a) << 32) | int(b)


def lfsr_seed(spec, seed: int) -> int:
    """``seed`` cut to the width of the LFSR that the source's seed transfer sets; never 0 (an LFSR
    seed of 0 would stay 0)."""
    width = spec.uniform.width if hasattr(spec, "uniform") else spec.width
    return seed & ((1 << width) - 1) or 1


def query_position(spec, index: int, stream_length: int, run_seed: int, queries: int = 1) -> tuple[int | None, int]:
    """(LFSR seed to send, or None for the pool filled at reset; first stream element) of query
    ``index = step * queries + i`` of a run seeded ``run_seed`` whose queries are ``stream_length``
    elements long."""
    if index < 0 or stream_length < 1 or queries < 1:
        raise ValueError(f"query_position: index={index}, stream_length={stream_length}, queries={queries} "
                         f"must be >= 0, >= 1, >= 1")
    if getattr(spec, "KIND", None) == "pezo" and spec.reuse == "pool":
        seed = None
        if spec.refresh:
            block, index = divmod(index, spec.refresh)
            seed = lfsr_seed(spec, query_seed(run_seed, block, 0))
        return seed, (index * stream_length) % spec.pool
    step, i = divmod(index, queries)
    return lfsr_seed(spec, query_seed(run_seed, step, i)), 0
