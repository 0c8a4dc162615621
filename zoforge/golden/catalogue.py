"""Imports every block module so that their spec kinds and presets are registered."""
from . import lfsr, uniform  # noqa: F401
