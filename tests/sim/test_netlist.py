"""Gate-level checks without hardware: Yosys's post-synthesis netlist and nextpnr's placed and routed
netlist of a block, simulated in Icarus with YoWASP Yosys's cell models, equal the golden model word
for word (iCE40 and ECP5); the CLI runs the same with --netlist, and says in one line when the models
cannot simulate a netlist."""

from __future__ import annotations

import pytest

from zoforge.golden.spec import parse
from zoforge.sim.cocotb_runner import run_cocotb, simulator_available
from zoforge.sim.compare import mismatches
from zoforge.sim.netlist import cell_models, flat_cell_models

from ..host.cli_util import run

pytestmark = pytest.mark.skipif(simulator_available("icarus") is not None, reason=str(simulator_available("icarus")))


def test_cell_models_come_from_yowasp():
    assert cell_models("ice40").name == "cells_sim.v"
    assert "`include" not in flat_cell_models("ecp5").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_synthesized_lfsr_equals_golden(family):
    spec = parse("lfsr:width=32,lanes=4")
    words = run_cocotb(spec, 300, "icarus", backpressure=0.25, netlist=("synth", family)).words
    assert not mismatches(spec.golden(300), words)
    assert mismatches(spec.replace(seed=2).golden(300), words)      # the comparison can fail


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_placed_and_routed_lfsr_equals_golden(family):
    spec = parse("lfsr:width=16")          # 38 port bits: one pin each on the iCE40UP5K-SG48 (39)
    words = run_cocotb(spec, 300, "icarus", backpressure=0.25, netlist=("pnr", family)).words
    assert not mismatches(spec.golden(300), words)
    assert mismatches(spec.replace(seed=2).golden(300), words)      # the comparison can fail


@pytest.mark.slow
def test_cli_runs_the_synthesized_pezo_block(capsys):
    code, out, err = run(capsys, "sim", "pezo", "--cycles", "200", "--netlist", "synth", "--family", "ice40")
    assert code == 0, err
    assert out.startswith("OK: the synth netlist (ice40 cells, icarus) equals the golden model on 200 words")


def test_cli_says_in_one_line_that_the_ecp5_models_cannot_simulate_block_ram(capsys):
    code, out, err = run(capsys, "sim", "pezo-pool-x2", "--cycles", "100", "--netlist", "synth", "--family", "ecp5")
    assert code == 1 and not out
    last = err.strip().splitlines()[-1]
    assert last.startswith("zoforge: error: the ecp5 synth netlist of pezo cannot be simulated: it uses DP16KD "
                           "(a model without behaviour)"), last
