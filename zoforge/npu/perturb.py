"""PeZO's perturbation fused into the GEMM tile: ``gemm:...,perturb=PRESET``.

A ZO forward multiplies activations by weights ``w + a*z`` (``a`` = +eps or -2eps times the tensor's
factor). Unfused, the host perturbs the weight vector and sends it; fused, the weights stay on the
device (bf16) and each core perturbs the B object (a k x n tile of W^T) in L1 just before its matmul.
The core holds the PeZO pool (filled by the pool chain from the seed, :func:`zoforge.golden.pezo.pool_codes`)
and the host sends per call only a :class:`PerturbCall`: the pool seed, the tensor's stream position,
its scale numerator q (scale=norm) and ``a`` (eps, its sign and the fold factor in one float).

Spec value: spec values are single words of one kind, so a nested ``pezo:...`` string (which has its
own ``:``, ``,`` and ``=``) cannot sit inside ``gemm:...``; the value is the *name* of a registered
preset whose spec is a pool-reuse ``pezo`` spec (``perturb=pezo-pool-norm``: the in-tile kernel takes a runtime q, so a norm chain), or ``none``.

The mapping (the host's, :mod:`zoforge.host.optim.spec_z`): weight ``W[j, i]`` (W is (N, K) row-major,
B = W^T in the ``col`` layout) is stream element ``start + j*K + i``, and a pool makes element p equal to
``scale(pool[p mod P], q) * lsb``. The core adds ``float32(z * float32(a))`` to the bf16 weight in fp32
and rounds the sum to bf16 (RNE): the same operations, element by element, as the host perturbing the
bf16 weights in float32 and converting them (:func:`host_perturbed`), so the fused GEMM equals the
unfused one bit for bit (tests/npu/test_perturb.py). Columns ``j >= n_valid`` (the LM head's padded
vocabulary rows) are not perturbed, as the host never perturbs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..golden.pezo import PezoSpec, pool_codes
from ..golden.scale import scale_inplace
from ..golden.spec import SpecError, parse, presets
from .numerics import from_bf16, to_bf16

__all__ = ["PerturbCall", "core_pool", "pezo_spec", "pool_presets", "l1_bytes", "RTP_NAMES", "rtp_words", "rtp_values", "tile_z", "perturb_tile",
           "host_perturbed", "VECTOR_OPS", "cycles_per_object"]

#: Extra run-time parameters per core after the lane seeds: start (2 words), q, a (fp32 bits), column
#: blocks of C, K, n_valid, the run's first tile, the core's first column of B (col*n) and the columns
#: one block of C spans (cols*n). kernels/pezo_perturb.cc reads them at these indices.
RTP_NAMES = ("start_lo", "start_hi", "q", "a_bits", "col_blocks", "K", "n_valid", "first_tile", "col_n0", "block_n")
#: Vector operations per 16 elements of a B object (gather pool codes, scale: mul + add + shift, to fp32,
#: times a, add to the bf16 weight in fp32, round to bf16). Assumed (no measured figure): one per cycle.
VECTOR_OPS = 8


def pool_presets() -> tuple[str, ...]:
    """Names of the registered presets that are pool-reuse pezo specs with a runtime scale (``scale=norm``:
    the tile's kernel takes q per tensor), the allowed ``perturb`` values."""
    out = []
    for name, (text, _) in presets().items():
        if text.startswith("pezo:"):
            spec = parse(text)
            if isinstance(spec, PezoSpec) and spec.reuse == "pool" and spec.scale == "norm":
                out.append(name)
    return tuple(out)


def pezo_spec(name: str) -> PezoSpec | None:
    """The pezo spec a ``perturb`` value names (None for ``none``); a one-line SpecError otherwise."""
    if name == "none":
        return None
    allowed = pool_presets()
    if name not in allowed:
        raise SpecError(f"gemm: perturb={name} is not a pool preset; use none or one of {'|'.join(allowed)} "
                        f"(a preset name: a nested spec string cannot sit inside gemm:...)")
    return parse(name)


def l1_bytes(pezo: PezoSpec | None) -> int:
    """L1 a core needs for the fused perturbation: the pool's codes (16-bit words when they fit)."""
    if pezo is None:
        return 0
    return pezo.pool * (2 if pezo.bits <= 16 else 4)


def rtp_words(pezo: PezoSpec | None) -> int:
    """Run-time-parameter words the perturbation adds per core: one lane seed per pool lane (the host
    expands the query's seed as the SEED command does), then :data:`RTP_NAMES`."""
    return 0 if pezo is None else pezo.lanes + len(RTP_NAMES)


def rtp_values(spec, call: "PerturbCall | None", shape, col: int, first_tile: int) -> list[int]:
    """The words of :func:`rtp_words` for the cores of column ``col`` in one run (int32 bit patterns).
    Without a ``call`` (lowering time) the per-call words are 0: the host writes them into the run-time
    parameters before each call, as it writes the loop counts."""
    pezo = spec.pezo

    def i32(v: int) -> int:
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v
    if call is None:
        seeds, start, q, a_bits, n_valid = [0] * pezo.lanes, 0, 0, 0, shape.N
    else:
        seeds = pezo.seed_vector(call.seed if call.seed is not None else pezo.seed)
        start, q = call.start, call.q if call.q is not None else pezo.q
        a_bits = int(np.float32(call.a).view(np.uint32))
        n_valid = shape.N if call.n_valid is None else call.n_valid
    col_blocks = shape.N // (spec.n * spec.cols)
    return [i32(s) for s in seeds] + [i32(start), i32(start >> 32), q, i32(a_bits), col_blocks, shape.K, n_valid,
                                      first_tile, col * spec.n, spec.cols * spec.n]


def cycles_per_object(spec, pezo: PezoSpec | None) -> int:
    """Core cycles to perturb one k x n B object (:data:`VECTOR_OPS` per 16 elements)."""
    return 0 if pezo is None else -(-spec.k * spec.n // 16) * VECTOR_OPS


@dataclass(frozen=True)
class PerturbCall:
    """What the host sends for one perturbed GEMM (besides A): the query and the tensor, no weights."""
    seed: int | None        # pool seed (None: the pool filled at reset)
    start: int              # stream position of W[0, 0]
    q: int | None           # scale numerator (scale=norm; None: the spec's constant q)
    a: float                # the multiplier of z: +eps or -2eps, times the tensor's fold factor
    n_valid: int | None = None   # columns of B (rows of W) that are perturbed; None: all


def core_pool(pezo: PezoSpec, seed: int | None) -> np.ndarray:
    return pool_codes(pezo, seed).astype(np.int64)


def tile_z(pezo: PezoSpec, pool: np.ndarray, call: PerturbCall, K: int, k0: int, n0: int, k: int, n: int) -> np.ndarray:
    """z (float32, (k, n), B's orientation) for the B object at rows k0.. and columns n0.. of B = W^T,
    from the pool codes as a core computes it: gather, scale by q, times the lsb."""
    i, j = np.ogrid[k0:k0 + k, n0:n0 + n]
    codes = pool[(call.start + j * K + i) % pezo.pool]
    scale_inplace(codes, call.q if call.q is not None else pezo.q, pezo.sfrac)
    return (codes * pezo.out_format.lsb).astype(np.float32)


def perturb_tile(b_bits: np.ndarray, z: np.ndarray, call: PerturbCall, n0: int) -> np.ndarray:
    """bf16 bits of the perturbed object: RNE(bf16 weight + float32(z * a)) in fp32; columns past
    ``n_valid`` unchanged."""
    t = z * np.float32(call.a)
    out = to_bf16(from_bf16(b_bits) + t)
    if call.n_valid is not None and n0 + b_bits.shape[1] > call.n_valid:
        keep = max(0, call.n_valid - n0)
        out[:, keep:] = b_bits[:, keep:]
    return out


def host_perturbed(pezo: PezoSpec, call: PerturbCall, w_bf16: np.ndarray) -> np.ndarray:
    """The unfused path: the host perturbs the bf16 weights W (N, K, as float32) in float32 with the
    golden stream, as its ZO passes do (``w += z * a``), and rounds them to bf16 for the device."""
    from ..golden.pezo import perturbation_values
    N, K = w_bf16.shape
    rows = N if call.n_valid is None else min(N, call.n_valid)
    z = perturbation_values(pezo, call.start, rows * K, seed=call.seed, q=call.q).reshape(rows, K)
    w = np.array(w_bf16, dtype=np.float32)
    w[:rows] += z * np.float32(call.a)
    return from_bf16(to_bf16(w))
