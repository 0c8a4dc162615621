"""The zoforge command: each subcommand works, and bad input gives one line and exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from zoforge.cli import main
from zoforge.golden.spec import kinds, parse
from tests.golden.test_spec import all_bad_inputs


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_kinds_parameters_and_presets(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for kind, cls in kinds().items():
        assert f"{kind}:" in out
        for name, _, allowed in cls.parameters():
            assert name in out and allowed.describe() in out
    assert "presets:" in out and "uniform16" in out


def test_gen_writes_verilog_and_manifest(tmp_path, capsys):
    code, out, _ = run(capsys, "gen", "lfsr:width=16,lanes=2", "-o", str(tmp_path))
    assert code == 0
    verilog = (tmp_path / "lfsr.v").read_text()
    assert "module lfsr(" in verilog
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert parse(manifest["spec"]) == parse("lfsr:width=16,lanes=2")
    assert manifest["outputs_per_cycle"] == 2 and manifest["latency_cycles"] == 0
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["o__payload"] == {"name": "o__payload", "direction": "out", "width": 32}
    assert ports["seed__payload"]["direction"] == "in" and ports["clk"]["width"] == 1
    for name in ports:
        assert name in verilog


def test_pezo_manifest_reports_the_refill_and_its_cost_per_query(tmp_path, capsys):
    text = "pezo:reuse=pool,pool=64,lanes=4,bits=12,scale=fold,refresh=4"
    code, _, _ = run(capsys, "gen", text, "-o", str(tmp_path))
    assert code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert parse(manifest["spec"]) == parse(text) and "refresh=4" in manifest["spec"]
    assert manifest["refill_cycles"] == 16 and manifest["refresh_cycles_per_query"] == 4.0
    assert manifest["refresh"] == 4 and manifest["latency_cycles"] == 18
    assert not any(p["name"].startswith("scale") for p in manifest["ports"])       # fold: no scale port


def test_golden_dumps_rows_per_cycle(tmp_path, capsys):
    out_file = tmp_path / "g.npy"
    code, _, _ = run(capsys, "golden", "uniform16", "--count", "100", "--seed", "7", "-o", str(out_file))
    assert code == 0
    words = np.load(out_file)
    spec = parse("uniform16").replace(seed=7)
    assert words.shape == (100, 8)
    assert (words == spec.golden(100)).all()


def test_sim_pysim_agrees(capsys):
    code, out, _ = run(capsys, "sim", "lfsr:width=12,lanes=3", "--cycles", "500")
    assert code == 0 and out.startswith("OK")


@pytest.mark.parametrize("argv, words", [
    (["gen", "nosuch", "-o", "x"], ["nosuch", "kind"]),
    (["gen", "lfsr:width=1", "-o", "x"], ["width=1", "[2, 64]"]),
    (["golden", "lfsr", "--count", "0", "-o", "x.npy"], ["count=0"]),
    (["golden", "lfsr", "--count", "ten", "-o", "x.npy"], ["count='ten'"]),
    (["golden", "lfsr:width=8", "--count", "3", "--seed", "256", "-o", "x.npy"], ["seed=256", "[1, 255]"]),
    (["sim", "lfsr", "--simulator", "modelsim"], ["modelsim"]),
    (["sim", "lfsr", "--backpressure", "1.5"], ["backpressure"]),
    (["synth", "lfsr", "--family", "gowin"], ["gowin"]),
    (["synth", "lfsr", "--family", "xc7", "--fmax"], ["fmax"]),
    (["list", "nosuch"], ["nosuch"]),
    (["gen"], ["required"]),
])
def test_bad_command_lines_exit_2_with_one_line(argv, words, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("zoforge: error:"), err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("kind, name, raw", list(all_bad_inputs()))
def test_every_bad_parameter_exits_2_through_the_cli(kind, name, raw, capsys, tmp_path):
    code, _, err = run(capsys, "gen", f"{kind}:{name}={raw}", "-o", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and name in err, err
    assert not any(tmp_path.iterdir())          # nothing written on bad input


def test_module_entry_point_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "zoforge", "gen", "lfsr:lanes=0", "-o", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "lanes=0" in proc.stderr
