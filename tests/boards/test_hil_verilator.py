"""Hardware in the loop on Verilator: `zoforge train --device sim-verilator:icebreaker` trains through the
board top compiled by Verilator (UART pins at the iCEBreaker's real 12 cycles per bit) and ends with
exactly the golden engine's weights and losses."""

from __future__ import annotations

import numpy as np
import pytest

from zoforge.device.run import load_weights
from zoforge.sim.cocotb_runner import simulator_available

from ..host.cli_util import run
from .test_hil import ARGS, evals

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("board-sim"),
              pytest.mark.skipif(simulator_available("verilator") is not None,
                                 reason=str(simulator_available("verilator")))]


def test_verilator_board_trains_like_the_golden_engine(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--device", "sim-verilator:icebreaker", *ARGS, "-o", tmp_path / "sim")
    assert code == 0, err
    assert "link" in out and "frames" in out
    code, _, err = run(capsys, "train", "--device", "golden", *ARGS, "-o", tmp_path / "golden")
    assert code == 0, err
    sim, sim_meta = load_weights(tmp_path / "sim" / "weights.safetensors")
    golden, _ = load_weights(tmp_path / "golden" / "weights.safetensors")
    assert sim_meta["device"] == "sim-verilator:icebreaker"
    assert np.array_equal(sim, golden)
    assert evals(tmp_path / "sim") == evals(tmp_path / "golden")


def test_verilator_board_runs_at_the_real_divisor():
    from zoforge.device.connect import open_device
    device = open_device("sim-verilator:icebreaker")
    try:
        transport = device.link.transport
        assert transport.sim.divisor == 12                  # the board's, not the Amaranth sim's 4
        device.client.ping()
        assert transport.sim.framing_errors == 0
    finally:
        device.close()
