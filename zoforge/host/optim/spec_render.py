"""Fast host renderings of the Gaussian-approximator and uniform streams at any element offset.

:func:`zoforge.golden.pezo.perturbation_values` and :func:`zoforge.golden.sign.perturbation_values`
already render ``pezo`` and ``sign`` streams from any start; the
``gaussian`` and ``uniform`` golden models only produce a stream from its beginning
(``spec.golden(count)``). These functions give flat elements ``start .. start+n-1`` of the same streams
(element i is word ``i // lanes``, lane ``i % lanes``) from the LFSR words of the spec's uniform source
(``lfsr_pieces`` jumps ahead to the first word), applying the transform of ``GaussianSpec.golden``.
The tests check them against ``spec.golden`` on whole streams and at offsets.
"""

from __future__ import annotations

import numpy as np

from ...golden.gaussian import GaussianSpec
from ...golden.lfsr import lfsr_pieces
from ...golden.pezo import PezoSpec, perturbation, perturbation_values
from ...golden.sign import SignSpec, perturbation as sign_codes, perturbation_values as sign_values
from ...golden.uniform import UniformSpec, words_to_codes

__all__ = ["stream_codes", "stream_values"]

_PIECE = 1 << 16


def _transform(spec, codes: np.ndarray) -> np.ndarray:
    """Uniform codes (k, uniform lanes) -> output codes (k, lanes): GaussianSpec.golden's rule."""
    if isinstance(spec, UniformSpec):
        return codes
    if spec.method == "clt":
        k, sh = spec.clt_scale
        s = codes.reshape(len(codes), spec.lanes, spec.n).sum(axis=2)
        return (s * (2 * k) + (spec.n * k + (1 << (sh - 1)))) >> sh
    raw = codes & ((1 << spec.uniform_bits) - 1)
    return spec.table.evaluate(raw)


def _lfsr_stream(spec, start: int, out: np.ndarray, seed: int | None, scale: float | None) -> np.ndarray:
    uniform = spec.uniform if isinstance(spec, GaussianSpec) else spec
    lanes, n = spec.outputs_per_cycle, len(out)
    first, last = start // lanes, -(-(start + n) // lanes)
    pos = first * lanes                    # element index of the current piece's first element
    for words in lfsr_pieces(uniform.lfsr, last - first, seed=seed, start=first, piece=_PIECE):
        codes = _transform(spec, words_to_codes(words, uniform.width, uniform.bits)).reshape(-1)
        a, b = max(pos, start), min(pos + len(codes), start + n)
        part = codes[a - pos:b - pos]
        if scale is None:
            out[a - start:b - start] = part
        else:
            np.multiply(part, scale, out=out[a - start:b - start], casting="unsafe")
        pos += len(codes)
    return out


def stream_codes(spec, start: int, n: int, seed: int | None = None, q: int | None = None) -> np.ndarray:
    """Integer codes (int64) of elements start .. start+n-1 of ``spec``'s output stream after a reset or
    a reseed with ``seed``; ``q``: the runtime scale of a ``pezo`` spec with scale=norm."""
    if isinstance(spec, PezoSpec):
        return perturbation(spec, start, n, seed=seed, q=q).astype(np.int64)
    if isinstance(spec, SignSpec):
        return sign_codes(spec, start, n, seed=seed).astype(np.int64)
    return _lfsr_stream(spec, start, np.empty(n, np.int64), seed, None)


def stream_values(spec, start: int, out: np.ndarray, seed: int | None = None, q: int | None = None) -> np.ndarray:
    """Real values ``code * lsb`` (exact in float32) of elements start .. start+len(out)-1, into ``out``."""
    if isinstance(spec, PezoSpec):
        return perturbation_values(spec, start, len(out), seed=seed, q=q, out=out)
    if isinstance(spec, SignSpec):
        return sign_values(spec, start, len(out), seed=seed, dtype=out.dtype, out=out)
    return _lfsr_stream(spec, start, out, seed, spec.out_format.lsb)
