"""Every user-reachable CLI error is one line (input echoed at most ~200 characters), exit 2 for bad
input, never a traceback, never a hang; a fuzz over the subcommands checks the same on drawn input."""

import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.host.cli_util import run

TINY = ["--model", "tiny", "--seq", "48", "--batch", "4", "--no-progress", "--threads", "1", "--steps", "1"]
LONG = "1" * 5000


def one_line(code, err, status=2):
    assert code == status, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.count("\n") == 1 and err.startswith("zoforge: error: "), err
    assert len(err) < 600, f"{len(err)} characters"
    return err


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)              # an empty path must not mean this folder either
    (tmp_path / "existing.txt").write_text("keep me\n")
    (tmp_path / "some_dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["gen", "lfsr:width=8", "-o", "{t}/existing.txt"],
    ["golden", "lfsr:width=8", "--count", "4", "-o", "{t}/some_dir"],
    ["train", *TINY, "--task", "synthetic", "-o", "{t}/existing.txt/run"],
    ["train", *TINY, "--task", "synthetic", "--template", "{{sentence}} {{x}}", "-o", "{t}/r"],
    ["train", *TINY, "--task", "synthetic", "--template", "{{sentence}} {{", "-o", "{t}/r"],
    ["sample", "--init", "{t}/r", "--prompt", "\udcff"],
    ["npu", "emulate", "gemm", "--shape", f"1x{LONG}x3"],
    ["npu", "perf", "gemm", "--shapes", f"1x{LONG}x3"],
    ["train", "--task", "synthetic", "--model", "gpt:n_embd=65536,n_head=1,n_layer=1024", "-o", "{t}/r"],
    ["golden", "lfsr:lanes=256,width=64", "--count", "100000000", "-o", "{t}/g.npy"],
    ["quality", "lfsr:lanes=256,width=64", "--count", "100000000000"],
    ["train", *TINY, "--task", "lm", "--data", "/dev/zero", "-o", "{t}/r"],
    ["train", *TINY, "--task", "lm", "--data", "{t}/fifo", "-o", "{t}/r"],
    ["train", *TINY, "--task", "sst2", "--data", "{t}/fifo", "-o", "{t}/r"],
    ["train", *TINY, "--task", "lm", "--data", "", "-o", "{t}/r"],
    ["train", *TINY, "--task", "synthetic", "-o", ""],
    ["eval", "--init", "", "--task", "synthetic"],
    ["gen", "lfsr:width=8", "-o", ""],
    ["golden", "lfsr:width=8", "--count", "4", "-o", ""],
    ["train", *TINY, "--task", "synthetic", "--labels", "a|b|c", "-o", "{t}/r"],
    ["gen", "lfsr:width=" + "9" * 100_000, "-o", "{t}/g"],
    ["golden", "lfsr:width=8," + "x" * 100_000, "--count", "4", "-o", "{t}/g.npy"],
    ["train", *TINY, "--task", "synthetic", "--model", "gpt:n_embd=" + LONG, "-o", "{t}/r"],
])
def test_bad_input_is_one_short_line(files, capsys, argv):
    argv = [a.format(t=files) for a in argv]
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=run(capsys, *argv)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), f"hangs: {argv[:4]}"
    code, _, err = result["r"]
    one_line(code, err)
    assert (files / "existing.txt").read_text() == "keep me\n"
    assert not (files / "checkpoints").exists() and not (files / "metrics.jsonl").exists()  # nothing in cwd


def test_labels_must_match_the_sst2_classes(tmp_path, capsys):
    (tmp_path / "d.tsv").write_text("".join(f"s{i}\t{i % 2}\n" for i in range(20)))
    code, _, err = run(capsys, "train", *TINY, "--task", "sst2", "--data", tmp_path / "d.tsv",
                       "--labels", "a|b|c", "-o", tmp_path / "r")
    assert "3 label words" in one_line(code, err)


# ---- fuzz ----------------------------------------------------------------------------------------

_WORDS = st.sampled_from([
    "", " ", "0", "-1", "1", "2", "7", "1e9", "nan", "inf", "x", "\udcff", "{", "{sentence} {x}", "a|b|c",
    "a|b", "/dev/null", "/dev/zero", "..", "../../x", "a b", "lfsr", "lfsr:width=8", "lfsr:width=99",
    "gemm", "tiny", "gpt:n_embd=65536,n_layer=1024", "uniform16", "pezo-pool", "synthetic", "lm", "sst2",
    "pezo", "adamw", "mezo", "1x2x3", "1x0x3", LONG, "@EXIST", "@DIR", "@FIFO", "@NEW",
])
_OPTIONS = st.sampled_from([
    "-o", "--out", "--output", "--count", "--seed", "--name", "--cycles", "--data", "--init", "--task",
    "--model", "--template", "--labels", "--prompt", "--shape", "--shapes", "--steps", "--seq", "--batch",
    "--tokens", "--keep", "--lr", "--eps", "--queries", "--perturb", "--optimizer", "--tokenizer", "--kind",
    "--resume", "--family", "--simulator", "--backpressure",
])
_COMMANDS = st.sampled_from([["list"], ["gen"], ["golden"], ["quality"], ["train"], ["eval"], ["sample"],
                             ["npu", "validate"], ["npu", "emulate"], ["npu", "perf"], ["sim"]])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(command=_COMMANDS, rest=st.lists(st.one_of(_OPTIONS, _WORDS), max_size=6))
def test_fuzz_cli_never_tracebacks(tmp_path_factory, capsys, command, rest):
    base = tmp_path_factory.getbasetemp() / "fuzz"
    base.mkdir(exist_ok=True)
    home = os.getcwd()
    (base / "exist.txt").write_text("x")
    (base / "dir").mkdir(exist_ok=True)
    if not (base / "fifo").exists():
        os.mkfifo(base / "fifo")
    names = {"@EXIST": base / "exist.txt", "@DIR": base / "dir", "@FIFO": base / "fifo", "@NEW": base / "new"}
    argv = command + [str(names.get(w, w)) for w in rest]
    # keep the fuzz fast: training only gets its argument checking, simulations are short
    argv += {"train": ["--steps", "0"], "sim": ["--cycles", "20"]}.get(command[0], [])
    os.chdir(base)                           # whatever a drawn case writes lands in the fuzz folder
    try:
        result = {}
        worker = threading.Thread(target=lambda: result.update(r=run(capsys, *argv)), daemon=True)
        worker.start()
        worker.join(60)
    finally:
        os.chdir(home)
    assert not worker.is_alive(), f"hangs: {argv!r:.300}"
    code, _, err = result["r"]
    assert "Traceback" not in err and "internal error" not in err, (f"{argv!r:.300}", err[-600:])
    assert code in (0, 1, 2), (f"{argv!r:.300}", code, err[:300])
    if code:
        assert err.count("\n") == 1 and len(err) < 600, (f"{argv!r:.300}", err[:300])


def test_sample_refuses_a_prompt_that_is_not_utf8(tmp_path, capsys):
    from zoforge.host.checkpoint import save_hf
    from zoforge.host.config import parse_config
    from zoforge.host.params import Params
    config = parse_config("tiny")
    save_hf(tmp_path / "m", config, Params.init(config, 0))
    code, _, err = run(capsys, "sample", "--init", tmp_path / "m", "--prompt", "\udcff", "--tokens", "2")
    assert "--prompt" in one_line(code, err)
