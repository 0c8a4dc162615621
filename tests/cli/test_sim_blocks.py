"""`zoforge sim` for the MAC array, the perturbation and update units and the link: OK on pysim, FAIL
with the first differences and a waveform when the gateware is built with a parameter other than the
spec's, and one line (exit 2) for every option that does not fit the kind."""

from __future__ import annotations

import pytest

from tests.host.cli_util import run
from zoforge.gen.link import Link
from zoforge.gen.perturb import Perturb
from zoforge.golden.perturb import PerturbSpec
from zoforge.sim import link_check
from zoforge.sim.cocotb_runner import simulator_available


@pytest.mark.parametrize("argv, what", [
    (["mac-int8", "--cycles", "100"], "100 words (400 numbers) of mac:"),
    (["perturb", "--cycles", "100", "--backpressure", "0"], "100 words (800 numbers) of perturb:"),
    (["update16-sr", "--cycles", "100", "--seed", "9"], "100 words (800 numbers) of update:"),
    (["link", "--commands", "6", "--engine", "engine:rng=pezo-pool-x2,words=64,max_cols=16"], "of link:"),
])
def test_each_kind_equals_golden_in_pysim(capsys, argv, what):
    code, out, err = run(capsys, "sim", *argv)
    assert code == 0, err
    assert out.startswith("OK: pysim equals the golden") and what in out, out
    assert err.startswith("sim: "), err                      # what is running, before it runs


def test_the_link_reports_what_the_session_did(capsys):
    code, out, _ = run(capsys, "sim", "link:cmd_bytes=128,rsp_bytes=128", "--sessions", "2", "--commands", "5",
                       "--engine", "engine:rng=pezo-pool-x2,words=64,max_cols=16")
    assert code == 0 and "on 2 sessions" in out and "in front of engine:" in out
    assert all(f"{word} " in out for word in ("executed", "retries", "dropped", "refused", "abandoned"))


def test_waves_on_request(capsys, tmp_path):
    waves = tmp_path / "mac.vcd"
    code, out, _ = run(capsys, "sim", "mac", "--cycles", "20", "--waves", waves)
    assert code == 0 and out.rstrip().endswith(f"waveform {waves}") and waves.stat().st_size > 1000


def test_a_gateware_parameter_other_than_the_spec_fails_with_a_waveform(capsys, monkeypatch, tmp_path):
    """The perturbation unit built with eps one bit smaller than its spec says."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(PerturbSpec, "create", lambda spec: Perturb(spec.replace(eps_shift=spec.eps_shift + 1)))
    code, out, _ = run(capsys, "sim", "perturb", "--cycles", "50")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("FAIL: pysim differs from the golden model for perturb:")
    assert lines[1].startswith("  word ") and "expected" in lines[1] and len(lines) == 12   # ten differences
    waves = lines[-1].split("waveform: ")[1]
    assert (tmp_path / waves).stat().st_size > 1000


def test_a_link_with_a_smaller_response_buffer_fails(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(link_check, "Link", lambda spec: Link(spec.replace(rsp_bytes=64)))
    code, out, _ = run(capsys, "sim", "link", "--commands", "8", "--backpressure", "0")
    assert code == 1
    assert out.startswith("FAIL: pysim differs from the golden link") and "answer byte" in out
    waves = out.split("waveform: ")[1].split()[0]
    assert (tmp_path / waves).stat().st_size > 1000


def test_icarus_runs_the_emitted_verilog(capsys):
    if reason := simulator_available("icarus"):
        pytest.skip(reason)
    code, out, err = run(capsys, "sim", "perturb:lanes=2", "--cycles", "40", "--simulator", "icarus")
    assert code == 0, err
    assert out.startswith("OK: icarus equals the golden model on 40 words (80 numbers)")


@pytest.mark.parametrize("argv, text", [
    (["mac", "--sessions", "2"], "--sessions does not apply to mac; mac takes --cycles"),
    (["perturb", "--commands", "3"], "--commands does not apply to perturb"),
    (["update", "--link", "link"], "--link does not apply to update"),
    (["mac", "--engine", "engine-s"], "--engine does not apply to mac"),
    (["link", "--cycles", "10"], "link takes --sessions, --commands and --engine"),
    (["link", "--simulator", "icarus"], "link runs in pysim; the link in Verilog: zoforge sim --board NAME"),
    (["link", "--link", "link"], "--link does not apply to link"),
    (["link", "--engine", "mac"], "--engine: spec: kind 'mac' is not usable here"),
    (["mac", "--netlist", "synth", "--family", "ice40"], "mac runs its RTL"),
    (["perturb", "--simulator", "icarus", "--waves", "x.vcd"], "written by pysim"),
    (["update:rounding=up"], "rounding='up'"),
    (["lfsr", "--engine", "engine-s"], "--engine does not apply to a random-number block"),
    (["engine-s", "--engine", "engine-s"], "--engine goes with a link SPEC"),
    (["mac:rows=64,lanes=64", "--cycles", "10000000"], "sim --cycles 10000000 of mac needs about"),   # TBs
])
def test_bad_options_are_one_line_exit_2(capsys, argv, text):
    code, out, err = run(capsys, "sim", *argv)
    assert code == 2 and text in err and len(err.strip().splitlines()) == 1, err
    assert out == ""


def test_a_kind_without_a_check_lists_every_kind_sim_runs(capsys):
    from zoforge.npu import design  # noqa: F401  (registers the gemm kind)
    code, _, err = run(capsys, "sim", "gemm")
    assert code == 2 and "gemm" in err
    listed = err.split("SPEC must be one of ")[1].split()[0].split("|")
    assert sorted(listed) == sorted(["lfsr", "uniform", "gaussian", "pezo", "sign", "mac", "perturb", "update",
                                     "link", "engine"]), err
