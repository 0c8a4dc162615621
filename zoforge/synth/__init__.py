"""Synthesis estimates (Yosys: LUT / FF / carry / DSP / BRAM per family) and Fmax (nextpnr)."""
from .cells import CATEGORIES, FAMILIES, categorize
from .pnr import DEVICES, NEXTPNR, fmax, place_and_route
from .yosys import SYNTH_COMMANDS, synthesize, yosys_version

__all__ = ["synthesize", "fmax", "place_and_route", "categorize", "yosys_version",
           "CATEGORIES", "FAMILIES", "DEVICES", "NEXTPNR", "SYNTH_COMMANDS"]
