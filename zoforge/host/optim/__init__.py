"""Optimizers of the host: AdamW (backprop), MeZO (ZO-SGD, Gaussian z from seeds) and PeZO (ZO-SGD, z
from a random-number spec's golden model, exactly as the FPGA streams it).

Members
-------
OPTIMIZERS                       the names: adamw, mezo, pezo
DEFAULT_PERTURB                  the spec PeZO uses when none is given
perturbation_spec(text)          parse a ``--perturb`` spec (kinds pezo, gaussian, uniform, sign)
with_refresh(spec, n)            that spec with ``refresh=n`` (``--pool-refresh``)
build(name, params, ...)         an optimizer over a model's parameters
AdamW, ZOSGD, FusedZOSGD, TileZOSGD, MezoGaussian, SpecPerturbation, Layout, Workers, Pass, NonFiniteLoss, query_seed
"""

from __future__ import annotations

from ...golden.gaussian import GaussianSpec
from ...golden.pezo import PezoSpec
from ...golden.sign import SignSpec
from ...golden.spec import SpecError, parse
from ...golden.uniform import UniformSpec
from ..params import Params
from .adamw import AdamW
from .layout import Layout
from .mezo_z import MezoGaussian
from .passes import Pass
from .spec_z import SpecPerturbation
from .workers import Workers
from .zo import ZOSGD, NonFiniteLoss, query_seed
from .zo_fused import FusedZOSGD
from .zo_tile import TileZOSGD, tile_pezo

__all__ = ["OPTIMIZERS", "DEFAULT_PERTURB", "PERTURB_KINDS", "perturbation_spec", "with_refresh", "build", "AdamW",
           "ZOSGD", "FusedZOSGD", "TileZOSGD", "MezoGaussian", "SpecPerturbation", "Layout", "Workers", "Pass", "NonFiniteLoss", "query_seed"]

OPTIMIZERS = ("adamw", "mezo", "pezo")
DEFAULT_PERTURB = "pezo-pool"
PERTURB_KINDS = (PezoSpec, GaussianSpec, UniformSpec, SignSpec)


def perturbation_spec(text: str):
    """A perturbation source spec: ``pezo:...``, ``gaussian:...``, ``uniform:...``, ``sign:...`` or one of
    their presets."""
    spec = parse(text)
    if not isinstance(spec, PERTURB_KINDS):
        raise SpecError(f"spec: kind {spec.KIND!r} is not a perturbation source; use "
                        f"{'|'.join(k.KIND for k in PERTURB_KINDS)} (or one of their presets)")
    return spec


def build(name: str, params: Params, *, perturb: str | None = None, eps: float = 1e-3,
          weight_decay: float = 0.0, queries: int = 1, seed: int = 0, betas=(0.9, 0.95), adam_eps: float = 1e-8,
          grad_clip: float = 0.0, pool_refresh: int = 0, workers: Workers | None = None, fused: bool = False,
          backend=None):
    """The optimizer ``name`` for ``params``. ZO optimizers take ``eps``, ``queries`` and ``seed``; PeZO
    also ``perturb`` (a spec string, default :data:`DEFAULT_PERTURB`) and ``pool_refresh``, which sets
    the spec's ``refresh`` (reseed a pool every that many queries; 0 keeps the spec's own value).
    ``fused``: the ZO passes are applied inside the model's forward (:class:`FusedZOSGD`, same bits; call
    ``flush()`` before reading the weights other than through the model). ``backend``: the model's
    matmul backend; when its tiles perturb (an NPU design with ``perturb=PRESET``), PeZO perturbs the
    weight matrices there (:class:`TileZOSGD`; ``perturb`` defaults to that preset)."""
    workers = workers or Workers()
    tile = tile_pezo(backend)
    layout = Layout(params.config)
    if name == "adamw":
        return AdamW(params, layout, workers, betas=betas, eps=adam_eps, weight_decay=weight_decay,
                     grad_clip=grad_clip)
    if name == "mezo":
        if tile is not None:
            raise SpecError(f"matmul: {backend.spec} perturbs in its tiles with PeZO's pool, which MeZO's Gaussian "
                            "z cannot use; train with --optimizer pezo, or a design with perturb=none")
        source = MezoGaussian(layout, workers)
    elif name == "pezo":
        default = backend.spec.perturb if tile is not None else DEFAULT_PERTURB
        spec = with_refresh(perturbation_spec(perturb or default), pool_refresh)
        source = SpecPerturbation(spec, layout, workers, run_seed=seed, queries=queries)
    else:
        raise ValueError(f"optimizer {name!r} is unknown; use one of {'|'.join(OPTIMIZERS)}")
    kw = dict(eps=eps, weight_decay=weight_decay, queries=queries, seed=seed)
    if tile is not None:
        return TileZOSGD(params, source, backend, **kw)
    return (FusedZOSGD if fused else ZOSGD)(params, source, **kw)


def with_refresh(spec, refresh: int):
    """``spec`` with ``refresh`` set (0: unchanged); the spec validates the value."""
    if not refresh:
        return spec
    if not isinstance(spec, PezoSpec):
        raise SpecError(f"{spec.KIND}: refresh={refresh} applies to pool specs only (pezo:reuse=pool,...), "
                        f"not to {spec}")
    return spec.replace(refresh=refresh)
