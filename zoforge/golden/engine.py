"""The PeZO engine spec (kind ``engine``): RNG chain + perturbation unit + update unit + MAC array
behind one byte-level command stream (protocol: :mod:`zoforge.golden.engine_protocol`, golden
executor: :mod:`zoforge.golden.engine_model`, gateware: :mod:`zoforge.gen.engine`).

Every sub-spec is derived here and nowhere else:

* ``rng_spec``   the random-number source, a registered preset of kind ``pezo``, ``gaussian`` or ``sign``
  (parameter ``rng``); its ``outputs_per_cycle`` is the engine's ``lanes``, its ``out_format`` the
  perturbation format z.
* ``perturb``    :class:`PerturbSpec`: ``lanes`` weights per cycle, eps = 2**-eps_shift (a shift).
* ``update``     :class:`UpdateSpec`: ``c = lr*g`` in sQ.(c_frac) with ``c_bits`` bits, weight decay
  lr*wd = 2**-decay (a shift; decay=0: none), stochastic rounding from a 32-bit LFSR that is never
  reseeded and advances once per updated weight word.
* ``mac``        :class:`MacSpec`: ``batch`` x ``lanes`` multipliers. Its rows are the ``batch`` input
  vectors processed together (activations are the MAC's per-row operand, ``row_bits = a_bits``) and
  the weight word is its broadcast operand (``bcast_bits = w_bits``), so each weight word is read
  once per batch. Accumulators hold any reduction of
  ``max_cols`` products exactly and are a whole number of bytes.

Weight memory: ``words`` words of ``lanes`` weights (sQ(w_bits-w_frac-1).w_frac codes). A weight
matrix of ``rows`` x ``cols`` at word ``base`` stores row m in words ``base + m*kw .. base + m*kw +
kw-1`` with ``kw = ceil(cols/lanes)`` (the tail of a row's last word is padding).

Members: :class:`EngineSpec`, :data:`RNG_PRESETS` (the ``rng`` choices), :data:`RNG_KINDS`.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from .fixed import FixedFormat, accumulator_bits
from .mac import MacSpec
from .perturb import PerturbSpec
from .presets import PRESETS
from .spec import Spec, SpecError, param, parse, register
from .update import UpdateSpec

__all__ = ["EngineSpec", "RNG_PRESETS", "RNG_KINDS", "SR_WIDTH"]

RNG_KINDS = ("pezo", "gaussian", "sign")
SR_WIDTH = 32            # LFSR width of the update unit's stochastic rounding

#: Every registered preset of a perturbation-source kind: the choices of ``rng``.
RNG_PRESETS = tuple(sorted(name for name, text, _ in PRESETS if text.split(":")[0] in RNG_KINDS))


@register
@dataclass(frozen=True, kw_only=True)
class EngineSpec(Spec):
    """A ZO training engine: weights on chip, perturbed, updated and multiplied by command."""

    KIND = "engine"
    SUMMARY = "PeZO engine: RNG chain + perturb/update units + MAC array, weights on chip, byte command stream"

    rng: str = param("pezo-pool-x2", choices=RNG_PRESETS, doc="RNG chain (a pezo, gaussian or sign preset); sets lanes")
    words: int = param(512, lo=2, hi=32768, doc="weight memory depth, in words of lanes weights")
    w_bits: int = param(16, choices=(8, 16), doc="weight bits (signed)")
    w_frac: int = param(12, lo=0, hi=15, doc="weight fraction bits", shown="an integer in [0, w_bits-1]")
    a_bits: int = param(8, choices=(8, 16), doc="activation bits (signed integers)")
    batch: int = param(1, lo=1, hi=16, doc="input vectors multiplied together (MAC rows)")
    max_cols: int = param(64, lo=1, hi=4096, doc="longest input vector of a forward command")
    eps_shift: int = param(6, lo=0, hi=32, doc="eps = 2**-eps_shift")
    c_bits: int = param(16, choices=(16, 24, 32), doc="bits of the update scalar c = lr*g")
    c_frac: int = param(14, lo=0, hi=40, doc="fraction bits of c")
    rounding: str = param("stochastic", choices=("stochastic", "nearest_even", "half_up", "floor"),
                          doc="rounding of the update to weight LSBs")
    decay: int = param(0, lo=0, hi=32, doc="weight decay lr*wd = 2**-decay; 0 = none")
    overflow: str = param("saturate", choices=("saturate", "wrap"), doc="out-of-range weights (always counted)")

    def validate(self) -> None:
        if self.w_frac >= self.w_bits:
            self.fail("w_frac", f"leaves no sign bit in w_bits={self.w_bits}; w_frac must be in [0, {self.w_bits - 1}]")
        lanes = self.lanes
        if lanes & (lanes - 1):
            self.fail("rng", f"has {lanes} outputs per cycle; the engine needs a power of two")
        shift = self.c_frac + self.z_format.frac - self.w_frac
        if self.rounding == "stochastic" and shift > SR_WIDTH:
            self.fail("c_frac", f"drops {shift} bits when rounding an update, more than the {SR_WIDTH}-bit "
                                f"rounding LFSR gives; c_frac must be <= {self.c_frac - shift + SR_WIDTH}")
        for name in ("perturb", "update", "mac"):
            try:
                getattr(self, name)
            except SpecError as e:       # same message, under this kind
                raise SpecError(f"{self.KIND} ({name}){str(e)[str(e).index(':'):]}") from None

    # ---- sub-specs and derived values: the only place they are computed ----
    @functools.cached_property
    def rng_spec(self):
        return parse(self.rng)

    @property
    def lanes(self) -> int:
        return self.rng_spec.outputs_per_cycle

    @property
    def z_format(self) -> FixedFormat:
        return self.rng_spec.out_format

    @property
    def w_format(self) -> FixedFormat:
        return FixedFormat(self.w_bits, self.w_frac)

    @functools.cached_property
    def perturb(self) -> PerturbSpec:
        z = self.z_format
        return PerturbSpec(lanes=self.lanes, w_bits=self.w_bits, w_frac=self.w_frac, z_bits=z.bits,
                           z_frac=z.frac, eps_shift=self.eps_shift, overflow=self.overflow, count_bits=32)

    @functools.cached_property
    def update(self) -> UpdateSpec:
        z = self.z_format
        return UpdateSpec(lanes=self.lanes, w_bits=self.w_bits, w_frac=self.w_frac, z_bits=z.bits, z_frac=z.frac,
                          c_bits=self.c_bits, c_frac=self.c_frac, rounding=self.rounding,
                          decay_mul=1 if self.decay else 0, decay_shift=self.decay or 16,
                          overflow=self.overflow, count_bits=32, rng_width=SR_WIDTH)

    @property
    def kw_max(self) -> int:
        """Words of the longest input vector: the activation buffer's depth."""
        return -(-self.max_cols // self.lanes)

    @functools.cached_property
    def mac(self) -> MacSpec:
        a, w = FixedFormat(self.a_bits, 0), FixedFormat(self.w_bits, 0)
        need = accumulator_bits(w, a, self.kw_max * self.lanes)
        # One row per input vector (activations), each weight word broadcast to all of them.
        return MacSpec(rows=self.batch, lanes=self.lanes, row_bits=self.a_bits, bcast_bits=self.w_bits,
                       acc_bits=8 * -(-need // 8), max_len=self.kw_max * self.lanes)

    # ---- byte sizes on the command stream ----
    @property
    def w_bytes(self) -> int:
        return self.w_bits // 8

    @property
    def a_bytes(self) -> int:
        return self.a_bits // 8

    @property
    def acc_bytes(self) -> int:
        return self.mac.acc_bits // 8

    @property
    def c_bytes(self) -> int:
        return self.c_bits // 8

    # ---- what the RNG chain supports ----
    @property
    def has_pool(self) -> bool:
        """The chain reuses a pool (the START command is available)."""
        return self.rng_spec.KIND == "pezo" and self.rng_spec.reuse == "pool"

    @property
    def has_scale(self) -> bool:
        """The chain has a runtime scale register, PeZO's scale=norm (the SCALE command is available)."""
        return self.rng_spec.KIND == "pezo" and self.rng_spec.scale == "norm"

    @property
    def pool_rows(self) -> int:
        return self.rng_spec.rows if self.has_pool else 0

    @property
    def seed_lfsr(self):
        """The LFSR whose seed the SEED command sets (its lane seeds are the chain's seed vector):
        that of the chain's uniform source, or the chain's own (sign)."""
        rng = self.rng_spec
        return getattr(rng, "uniform", rng).lfsr

    @functools.cached_property
    def hash(self) -> bytes:
        """First 8 bytes of SHA-256 of the canonical spec string: what INFO reports."""
        return hashlib.sha256(str(self).encode()).digest()[:8]

    def create(self):
        from ..gen.engine import Engine
        return Engine(self)
