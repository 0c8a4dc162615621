"""MeZO's Gaussian perturbation: z ~ N(0, I) over the trainable vector, regenerated from a seed.

Definition (fixed, so a seed always means the same z): the trainable vector (:class:`Layout`) is cut into
blocks of :data:`BLOCK` positions; block ``k`` of seed ``s`` draws float32 uniforms from
``SFC64(SeedSequence([s, k]))`` and turns them into normals by Box-Muller (as ``torch.normal`` does on
CPU), :data:`PIECE` outputs at a time: for a piece of n outputs, m = ceil(n/2) pairs (u1, u2) are the
first and second halves of 2m uniforms, output i < m is ``sqrt(-2 ln(1-u1_i)) cos(2 pi u2_i)`` and
output m+i is the same radius times ``sin(2 pi u2_i)``.

Why not ``Generator.standard_normal``: its ziggurat runs at ~140 M/s on one thread here, Box-Muller on
float32 with NumPy's SIMD log/sin/cos at ~350 M/s, and blocks let two threads share the work while the
numbers stay independent of the thread count. Float32 uniforms have 24 bits, so |z| < 5.8.
Reproducibility: the same bits on one machine and NumPy build (resume is exact); another CPU may differ
in the last ulp of the transcendental functions. PeZO's integer z codes have no such caveat.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from .layout import Layout
from .passes import SUB, Pass, apply_pass
from .workers import Workers

__all__ = ["BLOCK", "PIECE", "gaussian_piece", "gaussian_block", "MezoGaussian"]

BLOCK = 1 << 20
PIECE = SUB
_TWO_PI = np.float32(2.0 * math.pi)


def gaussian_piece(g: np.random.Generator, out: np.ndarray, u: np.ndarray) -> None:
    """Fill ``out`` (n <= PIECE) with normals from generator ``g``; ``u`` is scratch of >= n+1 floats."""
    n = len(out)
    m = (n + 1) // 2
    g.random(dtype=np.float32, out=u[:2 * m])
    r, theta = u[:m], u[m:2 * m]
    np.subtract(np.float32(1.0), r, out=r)          # (0, 1]: log is finite
    np.log(r, out=r)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)
    theta *= _TWO_PI
    np.cos(theta, out=out[:m])
    out[:m] *= r
    np.sin(theta[:n - m], out=out[m:])
    out[m:] *= r[:n - m]


def _generator(seed: int, block: int) -> np.random.Generator:
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence([seed, block])))


def gaussian_block(seed: int, block: int, length: int = BLOCK) -> np.ndarray:
    """The first ``length`` numbers of block ``block`` (reference path, allocates)."""
    g, out, u = _generator(seed, block), np.empty(length, np.float32), np.empty(PIECE + 1, np.float32)
    for i in range(0, length, PIECE):
        gaussian_piece(g, out[i:i + PIECE], u)
    return out


class MezoGaussian:
    """The perturbation source of MeZO: one Gaussian z per seed."""

    name = "mezo-gaussian"

    def __init__(self, layout: Layout, workers: Workers):
        self.layout, self.workers = layout, workers

    def query(self, index: int, seed: int) -> int:
        """A query is just its seed."""
        return seed

    def full(self, seed: int) -> np.ndarray:
        """z over the whole trainable vector (tests and reference only: allocates its full size)."""
        n = self.layout.size
        return np.concatenate([gaussian_block(seed, k, min(BLOCK, n - k * BLOCK))
                               for k in range(-(-n // BLOCK))]) if n else np.zeros(0, np.float32)

    def apply(self, data: np.ndarray, seed: int, op: Pass) -> None:
        """One pass over the weights for seed ``seed``: each block regenerates its z piece by piece and
        applies it at once (cache-resident; no full-size z ever exists)."""
        n, layout, workers = self.layout.size, self.layout, self.workers

        def block(k: int) -> None:
            g = _generator(seed, k)
            z, u, tmp = workers.scratch("z", PIECE), workers.scratch("u", PIECE + 1), workers.scratch("tmp", PIECE)
            lo_block = k * BLOCK
            for lo in range(lo_block, min(lo_block + BLOCK, n), PIECE):
                hi = min(lo + PIECE, lo_block + BLOCK, n)
                gaussian_piece(g, z[:hi - lo], u)
                for seg, first, last in layout.pieces(lo, hi):
                    if op.touches(seg.decay):
                        at = seg.offset + first - lo
                        apply_pass(data[seg.start + first:seg.start + last], z[at:at + last - first], op,
                                   seg.decay, tmp)

        workers.run(block, range(-(-n // BLOCK)))

    # ---- the fused path (zoforge.host.optim.lazy): a unit is one block -------------------------------
    @cached_property
    def units(self) -> range:
        return range(-(-self.layout.size // BLOCK))

    @cached_property
    def segment_units(self) -> tuple[tuple[int, ...], ...]:
        """For each segment, the blocks that hold part of it."""
        return tuple(tuple(range(s.offset // BLOCK, -(-(s.offset + s.length) // BLOCK))) if s.length else ()
                     for s in self.layout.segments)

    def apply_units(self, data: np.ndarray, ops, units) -> None:
        """Apply the passes ``ops`` (a list of (seed, Pass), in order) to the blocks ``units``: each piece
        of z of every pass is generated, then the pieces are applied in order while the weights are in
        cache. Per element the same arithmetic, in the same order, as separate :meth:`apply` calls."""
        n, layout, workers = self.layout.size, self.layout, self.workers

        def block(k: int) -> None:
            gens = [_generator(seed, k) for seed, _ in ops]
            zs = [workers.scratch(f"z{i}", PIECE) for i in range(len(ops))]
            u, tmp = workers.scratch("u", PIECE + 1), workers.scratch("tmp", PIECE)
            lo_block = k * BLOCK
            for lo in range(lo_block, min(lo_block + BLOCK, n), PIECE):
                hi = min(lo + PIECE, lo_block + BLOCK, n)
                for g, z in zip(gens, zs):
                    gaussian_piece(g, z[:hi - lo], u)
                for seg, first, last in layout.pieces(lo, hi):
                    at, w = seg.offset + first - lo, data[seg.start + first:seg.start + last]
                    for z, (_, op) in zip(zs, ops):
                        if op.touches(seg.decay):
                            apply_pass(w, z[at:at + last - first], op, seg.decay, tmp)

        workers.run(block, list(units))
