"""`zoforge sim` on the engine and a board top: random command sessions equal the golden engine byte
for byte (pysim; Icarus and Verilator in the slow tier), a corrupted golden answer is reported as a
difference with exit 1 and a waveform, bad input exits 2 in one line."""

from __future__ import annotations

import pytest

from zoforge.golden.engine_model import EngineModel
from zoforge.golden.spec import parse
from zoforge.sim import engine_check
from zoforge.sim.cocotb_runner import simulator_available

from ..host.cli_util import run


class _OffByOne(EngineModel):
    """The golden engine with the 3rd answer's last byte changed: what a gateware bug looks like."""

    def transact(self, command):
        out = super().transact(command)
        self.calls = getattr(self, "calls", 0) + 1
        return out[:-1] + bytes([out[-1] ^ 1]) if self.calls == 3 and out else out


def test_engine_sessions_equal_golden_in_pysim(capsys):
    code, out, err = run(capsys, "sim", "engine-s", "--sessions", "1", "--commands", "12")
    assert code == 0, err
    assert out.startswith("OK: pysim equals the golden engine on 1 sessions")


def test_a_difference_exits_1_with_the_first_differences_and_a_waveform(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine_check, "EngineModel", _OffByOne)
    code, out, _ = run(capsys, "sim", "engine-s", "--sessions", "1", "--commands", "6")
    assert code == 1
    assert "FAIL" in out and "command 2 " in out and "expected" in out
    waves = out.split("waveform: ")[1].split()[0]
    assert (tmp_path / waves).stat().st_size > 1000


def test_board_check_at_the_real_divisor_in_pysim():
    spec = parse("engine-s")
    from zoforge.boards.registry import get_board
    board = get_board("icebreaker")
    result = engine_check.check_board(board, spec, board.link, "pysim", commands=4)
    assert result.ok, result.differences
    assert result.response_bytes > 0 and result.cycles > 4 * 10 * 12


@pytest.mark.parametrize("argv, text", [
    (["sim", "engine-s", "--engine", "engine-s"], "--engine goes with a link SPEC"),
    (["sim", "engine-s", "--cycles", "5"], "--sessions"),
    (["sim", "--board", "nope"], "not a known board"),
    (["sim", "lfsr", "--netlist", "synth"], "--netlist and --family go together"),
    (["sim", "lfsr", "--netlist", "synth", "--family", "ice40", "--simulator", "verilator"], "runs in icarus"),
    (["sim", "engine-s", "--simulator", "verilator", "--waves", "x.vcd"], "pysim or icarus"),
    (["sim"], "give a SPEC"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, text):
    code, out, err = run(capsys, *argv)
    assert code == 2 and text in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_engine_sessions_equal_golden_in_verilog(simulator):
    if simulator_available(simulator):
        pytest.skip(simulator_available(simulator))
    result = engine_check.check_engine(parse("engine-s"), simulator, sessions=1, commands=10)
    assert result.ok, result.differences


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_board_sessions_equal_golden_in_verilog(simulator, tmp_path):
    if simulator_available(simulator):
        pytest.skip(simulator_available(simulator))
    from zoforge.boards.registry import get_board
    board = get_board("icebreaker")
    result = engine_check.check_board(board, parse("engine-s"), board.link, simulator, commands=8)
    assert result.ok, result.differences
