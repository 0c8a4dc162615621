"""Performance model: sourced constants, sane predictions, and the recorded table."""

import pathlib

from zoforge.npu.design import gpt2_shapes
from zoforge.npu.perf import CONSTANTS, REPORTED, predict, table
from zoforge.golden.spec import parse


def test_every_constant_has_a_source():
    for name, (value, source) in CONSTANTS.items():
        assert value > 0 and ("§" in source or "assumed" in source or "anchors" in source), name
    assert all(label.startswith("[") for _, _, label, _ in REPORTED)


def test_predictions_are_bounded_by_the_peak():
    spec = parse("npu1-gpt2")
    peak = 16 * 128 * 2 * 1e9 / 1e9            # GFLOP/s
    for shape in gpt2_shapes(256):
        pr = predict(spec, shape)
        assert 0 < pr.gflops < pr.gflops_array <= peak
        assert pr.bound in ("cores", "shim")
    assert predict(spec, (256, 768, 3072)).total_s > predict(spec, (256, 768, 768)).total_s
    assert "| 256x768x2304 |" in table(spec, gpt2_shapes(256))


def test_recorded_table_exists_with_its_command():
    text = (pathlib.Path(__file__).resolve().parents[2] / "benchmarks/results/npu_perf_model.md").read_text()
    assert "Command: `.venv/bin/python benchmarks/npu_perf_model.py" in text and "[2nd]" in text
