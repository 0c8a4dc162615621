"""Performance model: constants traced to docs/references.md, predictions that respond to each constant
the way the model says, and the recorded table."""

import pathlib

import pytest

from zoforge.npu.design import Shape, gpt2_shapes
from zoforge.npu.perf import CONSTANTS, REPORTED, convert_s, predict, table
from zoforge.npu.step_perf import GemmCall, StepRecord, predict_step
from zoforge.golden.spec import parse
from tests.refs import CITATION, entries

SPEC = "npu1-gpt2"
SHAPE = (256, 768, 3072)


def test_every_constant_names_an_existing_reference():
    known = entries()
    for name, (value, source) in CONSTANTS.items():
        assert value > 0, name
        cited = CITATION.findall(source)
        assert cited and all(a in known for a in cited), f"{name}: {source!r} names no entry of docs/references.md"
        if "assumed" in source:            # an assumed constant's entry says so too
            assert any("assumed" in known[a].lower() for a in cited), name


def test_every_reported_figure_names_an_existing_reference():
    known = entries()
    for what, _, label, source in REPORTED:
        assert label.startswith("[") and CITATION.fullmatch(source) and CITATION.fullmatch(source)[1] in known, what


def scaled(monkeypatch, name, factor):
    value, source = CONSTANTS[name]
    monkeypatch.setitem(CONSTANTS, name, (value * factor, source))
    return predict(parse(SPEC), SHAPE)


def test_host_constants_move_the_host_time(monkeypatch):
    base = predict(parse(SPEC), SHAPE)
    faster = scaled(monkeypatch, "host_convert_bytes_per_s", 2)
    assert faster.host_s < base.host_s and faster.total_s < base.total_s and faster.array_s == base.array_s
    monkeypatch.undo()
    slower = scaled(monkeypatch, "call_overhead_s", 2)
    assert slower.host_s == pytest.approx(base.host_s + CONSTANTS["call_overhead_s"][0] / 2)


def test_array_constants_move_the_array_time(monkeypatch):
    base = predict(parse(SPEC), SHAPE)
    assert base.bound == "shim"
    strided = scaled(monkeypatch, "shim_strided_factor", 2)
    assert strided.shim_s == pytest.approx(2 * base.shim_s) and strided.total_s > base.total_s
    monkeypatch.undo()
    fast_clock = scaled(monkeypatch, "clock_hz", 2)
    assert fast_clock.core_s == pytest.approx(base.core_s / 2) and fast_clock.shim_s == pytest.approx(base.shim_s / 2)
    monkeypatch.undo()
    # The reference tile is balanced: its MACs take exactly as long as streaming A, so a less efficient
    # kernel doubles the core time while a more efficient one cannot beat the stream.
    assert scaled(monkeypatch, "kernel_eff_bf16", 0.5).core_s == pytest.approx(2 * base.core_s)
    monkeypatch.undo()
    assert scaled(monkeypatch, "kernel_eff_bf16", 2).core_s == pytest.approx(base.core_s)


def test_predictions_are_bounded_by_the_peak():
    spec = parse(SPEC)
    peak = 16 * 128 * 2 * 1e9 / 1e9            # GFLOP/s
    for shape in gpt2_shapes(256):
        pr = predict(spec, shape)
        assert 0 < pr.gflops < pr.gflops_array <= peak
        assert pr.bound in ("cores", "shim")
    assert predict(spec, (256, 768, 3072)).total_s > predict(spec, (256, 768, 768)).total_s
    assert "| 256x768x2304 |" in table(spec, gpt2_shapes(256))


def test_recorded_table_exists_with_its_command_and_current_constants():
    text = (pathlib.Path(__file__).resolve().parents[2] / "benchmarks/results/npu_perf_model.md").read_text()
    assert "Command: `.venv/bin/python benchmarks/npu_perf_model.py" in text and "[2nd]" in text
    for name, (value, source) in CONSTANTS.items():
        assert f"| {name} | {value:g} | {source} |" in text, f"{name}: re-run benchmarks/npu_perf_model.py"


def test_a_resident_operand_is_not_converted_per_call():
    spec = parse(SPEC)
    M, K, N = SHAPE
    base, resident = predict(spec, SHAPE), predict(spec, SHAPE, resident="B")
    assert base.host_s - resident.host_s == pytest.approx(K * N * 6 / CONSTANTS["host_convert_bytes_per_s"][0])
    assert resident.array_s == base.array_s
    assert convert_s(spec, K * N) == pytest.approx(base.host_s - resident.host_s)


def test_n64_with_single_buffered_c_relieves_the_shim_and_pays_the_drain():
    ref, wide = predict(parse(SPEC), (256, 768, 2304)), predict(parse("npu1-gpt2-n64"), (256, 768, 2304))
    assert wide.shim_s < 0.6 * ref.shim_s and wide.array_s < ref.array_s
    double = predict(parse("npu1-gpt2-n64").replace(c_depth=2, k=32), (256, 768, 2304))   # fits L1 at k=32
    assert double.core_s < wide.core_s          # no drain stall when C is double-buffered


def test_step_prediction_replaces_cpu_gemms_by_npu_calls():
    spec = parse(SPEC)
    calls = [GemmCall(Shape(256, 768, 2304), "B", 0.05), GemmCall(Shape(2304, 256, 768), None, 0.04)]
    rec = StepRecord(1.0, calls, converted_elems=768 * 2304)
    pr = predict_step(spec, rec)
    one = predict(spec, (256, 768, 2304), resident="B").total_s + predict(spec, (2304, 256, 768)).total_s
    assert pr.cpu_gemm_s == pytest.approx(0.09)
    assert pr.step_s == pytest.approx(1.0 - 0.09 + one + convert_s(spec, 768 * 2304))
    # a weight converted once per use costs the same whether resident or converted in the call
    assert predict_step(spec, rec, resident=False).npu_gemm_s == pytest.approx(pr.npu_gemm_s)
    assert pr.speedup == pytest.approx(1.0 / pr.step_s) and pr.gemm_speedup == pytest.approx(0.09 / pr.npu_gemm_s)


def test_perturbing_in_the_tile_costs_core_cycles_not_host_work():
    spec = parse("npu1-gpt2-pezo")
    plain, perturbed = predict(spec, SHAPE, resident="B"), predict(spec, SHAPE, resident="B", perturbed=True)
    assert perturbed.core_s > plain.core_s and perturbed.host_s == plain.host_s
    with pytest.raises(ValueError, match="perturb=none"):
        predict(parse(SPEC), SHAPE, perturbed=True)
    # a perturbed call is never transposed: the weight stays B (the LM head's weight gradient shape would flip)
    lm = GemmCall(Shape(256, 768, 50257), "B", 0.0, perturbed=True)
    assert predict_step(spec, StepRecord(1.0, [lm])).array_s > 0
