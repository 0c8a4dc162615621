"""Index maps of PeZO's two random-number reuse strategies, and fast numpy renderings of them.

Indices are flat over the output stream: element i is word ``i // lanes``, lane ``i % lanes``.

``pool`` (pre-generation; needs on-chip memory). P numbers are generated once into a pool and
element i is ``pool[i mod P]``: perturbations concatenate over the pool, each one starting where the
previous one ended (docs/references.md#pezo-reuse-strategies). Pitfall: when the perturbed vector's length is a
multiple of P, every perturbation starts at the same pool position, so every step perturbs in the
same direction. Choose P and the length so that ``length mod P`` is not 0 (or send ``start`` rows).

``rotate`` (on-the-fly; logic only). ``gens`` generators make a vector G_b that is held for ``hold``
transfers, and the lane order rotates by one every transfer: lane j of transfer t is
``G[t // hold][(j + t) mod gens]``. Random numbers generated per output: gens / (lanes * hold).

Members
-------
tile(table, offset, out)                     out[k] = table[(offset + k) mod len(table)]
rotate_element(g, t, j, gens, hold)          the rotate definition for one element (reference)
rotate_blocks(g, first, lanes, gens, hold)   output elements of blocks first.. (one block = hold
                                             transfers) from their generated rows, vectorised
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["tile", "rotate_element", "rotate_blocks"]

_BROADCAST = 512          # periods at least this long are tiled by one broadcast copy


def tile(table: np.ndarray, offset: int, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (1-D) with ``table`` repeated, starting at ``table[offset mod len(table)]``."""
    p, n = len(table), len(out)
    a = offset % p
    first = min(n, p - a)
    out[:first] = table[a:a + first]
    rest = min(n - first, a)                       # complete one rotated period
    out[first:first + rest] = table[:rest]
    filled = first + rest                          # n, or exactly p
    if filled < n and p >= _BROADCAST:
        # One broadcast copy of the (cache-resident) first period into every further full period.
        full = n // p
        out[p:full * p].reshape(full - 1, p)[...] = out[:p]
        out[full * p:] = out[:n - full * p]
    else:
        while filled < n:                          # short periods: doubling copies are faster
            m = min(filled, n - filled)
            out[filled:filled + m] = out[:m]
            filled += m
    return out


def rotate_element(g, t: int, j: int, gens: int, hold: int):
    """Lane ``j`` of transfer ``t``: ``g[t // hold][(j + t) % gens]`` (g indexed by block)."""
    return g[t // hold][(j + t) % gens]


def rotate_blocks(g: np.ndarray, first: int, lanes: int, gens: int, hold: int,
                  out: np.ndarray | None = None) -> np.ndarray:
    """(blocks, hold*lanes) output elements of blocks ``first ..`` given their rows ``g`` (blocks, gens).

    Block b starts at transfer t = b*hold, so its element (h, j) is ``g[b][(h + j + r_b) mod gens]``
    with r_b = b*hold mod gens. Each (short) row is rotated by r_b once; then narrow lanes use one
    gather with a pattern shared by all blocks, and wide lanes (>= 16) copy contiguous runs: element
    (h, j) is ``d[b][h + j]`` with d[b][k] = rotated row[k mod gens], read through an overlapping
    strided view of d (numpy copies such runs faster than it gathers elements). ``out``: an optional
    C-contiguous (blocks, hold*lanes) destination."""
    blocks = len(g)
    if out is None:
        out = np.empty((blocks, hold * lanes), dtype=g.dtype)
    if hold % gens:                                       # else every r_b is 0
        r = ((first + np.arange(blocks)) * hold) % gens
        g = np.take_along_axis(g, (np.arange(gens)[None, :] + r[:, None]) % gens, axis=1)
    if lanes < 16:
        # mode="clip": with the default mode numpy first gathers into a temporary copy.
        return np.take(g, _block_pattern(lanes, gens, hold), axis=1, out=out, mode="clip")
    d = np.take(g, _block_pattern(1, gens, hold + lanes - 1), axis=1)
    step = d.strides[1]
    out.reshape(blocks, hold, lanes)[...] = np.lib.stride_tricks.as_strided(
        d, (blocks, hold, lanes), (d.strides[0], step, step), writeable=False)
    return out


@functools.lru_cache(maxsize=32)
def _block_pattern(lanes: int, gens: int, hold: int) -> np.ndarray:
    """Index into a block's rotated row for each of its hold*lanes elements: (h + j) mod gens."""
    h, j = np.meshgrid(np.arange(hold), np.arange(lanes), indexing="ij")
    pattern = ((h + j) % gens).reshape(-1).astype(np.intp)
    pattern.setflags(write=False)
    return pattern
