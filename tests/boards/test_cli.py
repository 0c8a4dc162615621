"""``zoforge boards | build | flash``: listings, one-line errors with exit 2 for bad input and exit 1
for a failed build, and the Arty's Vivado project."""

import json
import os

import pytest

from tests.boards.test_build import GIGAHERTZ, TinyCore
from zoforge.boards.registry import BOARDS
from zoforge.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_boards_lists_every_board(capsys):
    code, out, _ = run(capsys, "boards")
    assert code == 0
    for board in BOARDS.values():
        assert board.name in out and board.engine in out and board.description in out
    assert "12 MHz" in out and "Vivado" in out


@pytest.mark.parametrize("argv, words", [
    (["build", "--board", "de10-nano"], ["'de10-nano'", "icebreaker|ulx3s-85f|arty-a7-35"]),
    (["flash", "--board", "nosuch"], ["'nosuch'"]),
    (["build", "--board", "icebreaker", "--engine", "engine:w_bits=99"], ["--engine", "w_bits='99'", "8|16"]),
    (["build", "--board", "icebreaker", "--engine", "lfsr"], ["--engine", "lfsr", "engine"]),
    (["build", "--board", "icebreaker", "--engine", "nosuch-preset"], ["--engine", "nosuch-preset"]),
    (["build", "--board", "icebreaker", "--link", "link:cmd_bytes=100"], ["--link", "cmd_bytes=100"]),
    (["build", "--board", "icebreaker", "--link", "uniform16"], ["--link", "link"]),
    (["build"], ["--board", "required"]),
    (["flash"], ["--board", "required"]),
    (["build", "--board", "arty-a7-35", "--check-netlist"], ["--check-netlist", "vivado", "icebreaker"]),
])
def test_bad_input_exits_2_with_one_line(argv, words, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("zoforge: error:"), err
    for word in words:
        assert word in err, err


def test_timing_failure_exits_1_with_one_line(tmp_path, monkeypatch, capsys):
    """A real build through the CLI of a board whose clock no design meets (a test-only board)."""
    monkeypatch.setitem(BOARDS, GIGAHERTZ.name, GIGAHERTZ)
    monkeypatch.setattr("zoforge.boards.platform_top.PlatformTop._make_core", lambda self: TinyCore())
    code, out, err = run(capsys, "build", "--board", GIGAHERTZ.name, "-o", str(tmp_path))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("zoforge: error: timing failed: icebreaker-1ghz reaches "), err
    assert "1000 MHz" in err and "Traceback" not in out + err
    assert "place and route done" in out                     # the progress lines went to stdout
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "timing-failed"


@pytest.mark.parametrize("vivado", [False, True])
def test_arty_writes_the_vivado_project_and_says_vivado_is_needed(vivado, tmp_path, monkeypatch, capsys):
    path = os.environ.get("PATH", "")
    if vivado:                                               # a stand-in `vivado` on PATH
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "vivado").write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / "vivado").chmod(0o755)
        path = f"{bin_dir}{os.pathsep}{path}"
    else:
        path = os.pathsep.join(p for p in path.split(os.pathsep) if not os.path.exists(os.path.join(p, "vivado")))
    monkeypatch.setenv("PATH", path)
    out_dir = tmp_path / "arty"
    code, out, err = run(capsys, "build", "--board", "arty-a7-35", "-o", str(out_dir))
    assert code == 0, err
    message = out.strip().splitlines()[-1]
    assert "Vivado is required" in message or "Vivado (" in message
    assert "no bitstream yet" in message and f"cd {out_dir} && sh build_top.sh" in message
    assert ("not on PATH" in message) != vivado
    verilog = (out_dir / "top.v").read_text()
    assert "module top(" in verilog
    xdc = (out_dir / "top.xdc").read_text()
    assert "LOC A9" in xdc and "LOC D10" in xdc and "LOC H5" in xdc          # UART rx/tx, LED 0
    assert "create_project" in (out_dir / "top.tcl").read_text()
    assert "vivado" in (out_dir / "build_top.sh").read_text().lower()
    report = json.loads((out_dir / "report.json").read_text())
    assert report["status"] == "needs-vivado" and report["bitstream"] is None
    assert report["engine"].startswith("engine:rng=pezo-pool-x4")
