"""Imports every golden block module so that their spec kinds and presets are registered.

The NPU's ``gemm`` kind belongs to :mod:`zoforge.npu` and registers when that package is imported
(the command line imports it), so the golden layer never imports a layer above it.
"""
from . import engine, gaussian, lfsr, link, mac, perturb, pezo, sign, uniform, update  # noqa: F401
