"""Spec dataclasses and bit-exact numpy golden models of every zoforge block."""
from .spec import Spec, SpecError, kinds, parse, presets

__all__ = ["SpecError", "Spec", "parse", "kinds", "presets"]
