"""Spec dataclasses and bit-exact numpy golden models of every zoforge block."""
from .spec import SpecError, Spec, parse, kinds, presets

__all__ = ["SpecError", "Spec", "parse", "kinds", "presets"]
