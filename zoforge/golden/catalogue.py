"""Imports every block module so that their spec kinds and presets are registered."""
from . import lfsr, uniform, gaussian, sign, perturb, update, mac, pezo, engine, link  # noqa: F401
from ..gen.npu import design as _npu_design  # noqa: F401,E402  (gemm kind and npu presets)
