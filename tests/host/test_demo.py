"""The host half of `make run`, shrunk: base model cached by its options, three fine-tuning runs, report."""

import pathlib

import pytest

from zoforge.host import demo


@pytest.fixture
def small_demo(monkeypatch):
    monkeypatch.setattr(demo, "PRETRAIN", {**demo.PRETRAIN, "model": "tiny", "steps": 3, "batch": 4, "seq": 32})
    monkeypatch.setattr(demo, "STDLIB_BYTES", 60_000)
    monkeypatch.setattr(demo, "FINETUNE", {**demo.FINETUNE, "steps": 3, "batch": 4, "seq": 32, "eval_interval": 2,
                                           "eval_batches": 1})


def test_base_is_reused_only_when_its_options_match(tmp_path, small_demo, monkeypatch):
    base, first, reused = demo.ensure_base(tmp_path / "base", log=lambda *_: None)
    assert not reused and base.name == "step-00000003"
    again, record, reused = demo.ensure_base(tmp_path / "base", log=lambda *_: None)
    assert reused and again == base and record == first
    monkeypatch.setattr(demo, "PRETRAIN", {**demo.PRETRAIN, "lr": 1e-3})
    _, _, reused = demo.ensure_base(tmp_path / "base", log=lambda *_: None)
    assert not reused


def test_finetune_runs_and_report(tmp_path, small_demo):
    base, _, _ = demo.ensure_base(tmp_path / "base", log=lambda *_: None)
    text = tmp_path / "v.v"
    text.write_text("module m(input a, output b);\n  assign b = a;\nendmodule\n" * 40)
    jobs = demo.finetune_jobs(base, [str(text)], tmp_path / "ft", "pezo-pool")
    results = demo.finetune_all(jobs, workers=1)
    assert [r["name"] for r in results] == ["PeZO", "MeZO", "AdamW"]
    lines = demo.report_lines(results, 3)
    assert len(lines) == 5 and lines[2].startswith("| PeZO |")
    demo.plot(results, tmp_path / "p.png", "t")
    assert pathlib.Path(tmp_path / "p.png").stat().st_size > 1000
