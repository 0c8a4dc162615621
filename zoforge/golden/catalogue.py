"""The golden block kinds and their presets, registered explicitly: importing a block module registers
its kind (the ``@register`` decorator); :func:`register_presets` registers the one preset table,
:data:`zoforge.golden.presets.PRESETS`. The spec parser calls it before it looks a name up.

The NPU's ``gemm`` kind belongs to :mod:`zoforge.npu` and registers when that package is imported
(the command line imports it), so the golden layer never imports a layer above it.
"""
from . import engine, gaussian, lfsr, link, mac, perturb, pezo, sign, uniform, update  # noqa: F401
from .presets import PRESETS
from .spec import preset

__all__ = ["register_presets"]


def register_presets() -> None:
    for name, text, description in PRESETS:
        preset(name, text, description)
