"""Mapping of each family's primitive cells to resource categories."""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "FAMILIES", "categorize"]

#: Report order. LUTRAM: LUTs used as distributed RAM; SRL: LUTs used as shift registers;
#: mux: wide-function muxes (PFUMX/L6MUX21, MUXF7/8) that sit beside LUTs; other: anything else.
CATEGORIES = ("LUT", "FF", "carry", "DSP", "BRAM", "LUTRAM", "SRL", "mux", "other")

_RULES: dict[str, list[tuple[str, str]]] = {
    "ice40": [
        (r"SB_LUT4", "LUT"),
        (r"SB_DFF\w*", "FF"),
        (r"SB_CARRY", "carry"),
        (r"SB_MAC16", "DSP"),
        (r"SB_(S|L)?RAM\w*", "BRAM"),      # SB_RAM40_4K*, SB_SPRAM256KA
    ],
    "ecp5": [
        (r"LUT4", "LUT"),
        (r"TRELLIS_FF", "FF"),
        (r"CCU2C", "carry"),               # one CCU2C = two LUT4s + carry chain, counted apart
        (r"(MULT\d+X\d+D|ALU54B)", "DSP"),
        (r"(DP16KD|PDPW16KD)", "BRAM"),
        (r"TRELLIS_DPR16X4", "LUTRAM"),
        (r"(PFUMX|L6MUX21)", "mux"),
    ],
    "xc7": [
        (r"(LUT[1-6]|INV)", "LUT"),         # INV is a LUT1
        (r"FD[RSCPE]E?", "FF"),
        (r"CARRY4", "carry"),
        (r"DSP48E1", "DSP"),
        (r"RAMB(18|36)E1", "BRAM"),        # primitives as counted; a RAMB36E1 holds two 18 Kb halves
        (r"RAM\d+(M|X\d+[SD])", "LUTRAM"),  # RAM32M, RAM64M, RAM64X1D, RAM128X1S ...
        (r"SRL(C)?(16|32)E?", "SRL"),
        (r"MUXF[78]", "mux"),
    ],
}
_COMPILED = {fam: [(re.compile(rf"^{pat}$"), cat) for pat, cat in rules] for fam, rules in _RULES.items()}

FAMILIES = tuple(_RULES)
#: Cells that are bookkeeping, not hardware.
_IGNORED = re.compile(r"^\$scopeinfo$|^(VCC|GND)$|^\$(_?)(VCC|GND)")


def categorize(family: str, cells: dict[str, int]) -> dict[str, int]:
    """Sum a raw ``{cell type: count}`` table into :data:`CATEGORIES` (all keys present)."""
    out = dict.fromkeys(CATEGORIES, 0)
    for cell, n in cells.items():
        if _IGNORED.match(cell):
            continue
        for pat, cat in _COMPILED[family]:
            if pat.match(cell):
                out[cat] += n
                break
        else:
            out["other"] += n
    return out
