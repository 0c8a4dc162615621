"""zoforge train | eval | sample | pretrain: they run, and every bad option is one line and exit 2."""

import pytest

from tests.host.cli_util import run
from zoforge.host.runstate import latest_checkpoint

TINY = ["--model", "tiny", "--seq", "48", "--batch", "8", "--no-progress", "--threads", "1"]


def test_train_eval_sample_resume(tmp_path, capsys):
    out = tmp_path / "run"
    code, text, _ = run(capsys, "train", *TINY, "--task", "synthetic", "--steps", "6", "--lr", "1e-3",
                        "--eval-interval", "3", "--out", out)
    assert code == 0 and "done: 6 steps" in text and latest_checkpoint(out).name == "step-00000006"
    assert (out / "metrics.jsonl").is_file() and (out / "loss.png").is_file()
    code, text, _ = run(capsys, "train", "--out", out, "--resume", "--steps", "8", "--no-progress")
    assert code == 0 and "done: 8 steps" in text
    code, text, _ = run(capsys, "eval", "--init", out, "--task", "synthetic", "--seq", "48")
    assert code == 0 and "eval loss" in text and "accuracy" in text
    code, text, _ = run(capsys, "sample", "--init", out, "--prompt", "the film", "--tokens", "12",
                        "--temperature", "0")
    assert code == 0 and text.startswith("the film")
    code, again, _ = run(capsys, "sample", "--init", out, "--prompt", "the film", "--tokens", "12",
                         "--temperature", "0")
    assert again == text                                           # greedy is deterministic


def test_pretrain_on_a_directory(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def f(x):\n    return x + 1\n" * 40)
    code, text, _ = run(capsys, "pretrain", *TINY, "--data", tmp_path / "src", "--steps", "3",
                        "--out", tmp_path / "base")
    assert code == 0 and latest_checkpoint(tmp_path / "base") is not None
    code, text, _ = run(capsys, "eval", "--init", tmp_path / "base", "--task", "lm", "--data", tmp_path / "src",
                        "--seq", "48")
    assert code == 0 and "perplexity" in text


@pytest.mark.parametrize("argv,message", [
    (["train", "--lr", "abc"], "--lr='abc' is not allowed; --lr must be a number > 0"),
    (["train", "--lr", "-1"], "--lr='-1' is not allowed"),
    (["train", "--steps", "0"], "--steps=0 is out of range; --steps must be an integer >= 1"),
    (["train", "--batch", "x"], "--batch='x' is not an integer"),
    (["train", "--optimizer", "sgd"], "invalid choice: 'sgd'"),
    (["train", "--task", "qa"], "invalid choice: 'qa'"),
    (["train", "--matmul", "gpu"], "invalid choice: 'gpu'"),
    (["train", "--labels", "great"], "--labels='great' must be two or more"),
    (["train", "--betas", "0.9"], "--betas='0.9' must be two numbers"),
    (["train", "--task", "lm"], "--data is required for --task lm"),
    (["train", "--task", "synthetic", "--data", "x"], "--data='x' is not used by --task synthetic"),
    (["train", "--task", "synthetic", "--perturb", "lfsr"], "--perturb: spec: kind 'lfsr' is not a perturbation source"),
    (["train", "--task", "synthetic", "--perturb", "pezo:pool=3"], "--perturb: pezo: pool=3 is not a multiple of lanes"),
    (["train", "--task", "synthetic", "--optimizer", "adamw", "--perturb", "pezo"],
     "--perturb='pezo' is only used by --optimizer pezo"),
    (["train", "--task", "synthetic", "--perturb", "pezo-rotate", "--pool-refresh", "2"],
     "--pool-refresh=2: pezo: refresh=2 applies to reuse=pool only (reuse=rotate reseeds every query)"),
    (["train", "--task", "synthetic", "--perturb", "clt4", "--pool-refresh", "2"],
     "--pool-refresh=2: gaussian: refresh=2 applies to pool specs only"),
    (["train", "--task", "synthetic", "--pool-refresh", "-1"], "--pool-refresh=-1: pezo: refresh=-1 is out of range"),
    (["train", "--task", "synthetic", "--pool-refresh", "x"], "--pool-refresh='x' is not an integer"),
    (["train", "--task", "synthetic", "--optimizer", "mezo", "--pool-refresh", "2"],
     "--pool-refresh=2 is only used by --optimizer pezo"),
    (["train", "--task", "synthetic", "--model", "nano"], "gpt: preset 'nano' is unknown"),
    (["train", "--task", "synthetic", "--model", "tiny", "--seq", "100"], "--seq=100 exceeds the model's block_size 64"),
    (["train", "--task", "lm", "--data", "/no/such/file"], "--data /no/such/file: not found"),
    (["train", "--task", "synthetic", "--init", "/no/such/ckpt"], "/no/such/ckpt: not found"),
    (["train", "--task", "lm", "--data", "x", "--template", "{sentence}!"], "--template/--labels are only used by --task sst2|synthetic"),
    (["train", "--task", "synthetic", "--template", "no placeholder"], "--template 'no placeholder' has no {sentence}"),
    (["eval", "--init", "/no/such/ckpt"], "/no/such/ckpt: not found"),
    (["sample", "--init", "x", "--temperature", "-1"], "--temperature='-1' is not allowed"),
    (["sample", "--init", "x", "--top-k", "-2"], "--top-k=-2 is out of range"),
])
def test_bad_options_are_one_line_exit_2(tmp_path, capsys, argv, message):
    if argv[0] == "train":
        argv = argv + ["--out", str(tmp_path / "r")]
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_resume_errors(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--resume", "--out", tmp_path)
    assert code == 2 and "has no checkpoint to --resume from" in err
    run(capsys, "train", *TINY, "--task", "synthetic", "--steps", "2", "--out", tmp_path)
    code, _, err = run(capsys, "train", "--resume", "--out", tmp_path, "--optimizer", "mezo")
    assert code == 2 and "--optimizer='mezo' differs from the saved run's 'pezo'" in err


def test_sst2_tsv_end_to_end(tmp_path, capsys):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\n" + "a fine film\t1\nawful\t0\n" * 20)
    code, text, _ = run(capsys, "train", *TINY, "--task", "sst2", "--data", tmp_path / "d.tsv", "--steps", "2",
                        "--optimizer", "mezo", "--lr", "1e-4", "--labels", " bad| good", "--out", tmp_path / "r")
    assert code == 0 and "accuracy" in text


def test_a_hugging_face_directory_fine_tunes_and_transformers_reads_the_result(tmp_path, capsys):
    """A user's HF GPT-2 directory (weights + vocab.json/merges.txt under HF's names) with --init."""
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    torch = pytest.importorskip("torch")
    import numpy as np

    from tests.host.test_tokenizer import _write_bpe
    hf_dir = tmp_path / "gpt2-user"
    hf_dir.mkdir()
    _write_bpe(hf_dir)
    (hf_dir / "encoder.json").rename(hf_dir / "vocab.json")
    (hf_dir / "vocab.bpe").rename(hf_dir / "merges.txt")
    cfg = transformers.GPT2Config(vocab_size=266, n_positions=32, n_embd=16, n_layer=2, n_head=2)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(hf_dir, safe_serialization=True)
    (tmp_path / "text.txt").write_text("hello world, hello verilog world\n" * 30)
    code, text, err = run(capsys, "train", "--init", hf_dir, "--task", "lm", "--data", tmp_path / "text.txt",
                          "--seq", "16", "--batch", "4", "--steps", "3", "--optimizer", "pezo", "--lr", "1e-3",
                          "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    out = latest_checkpoint(tmp_path / "run")
    tuned = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    tokens = np.random.default_rng(0).integers(0, 266, (2, 8))
    from zoforge.host.checkpoint import load_hf
    from zoforge.host.model import GPT
    ours = GPT(*load_hf(out)).logits(tokens)
    with torch.no_grad():
        np.testing.assert_allclose(ours, tuned(torch.tensor(tokens)).logits.numpy(), atol=1e-4)


@pytest.mark.parametrize("command, model, given, seq", [
    ("pretrain", "tiny", [], 64),                 # pretrain's 128 does not fit tiny's block of 64
    ("pretrain", "small", [], 128),
    ("train", "tiny", [], 64),
    ("pretrain", "tiny", ["--seq", "32"], 32),    # what the user gives is kept (and checked later)
    ("pretrain", "tiny", ["--seq", "128"], 128),
])
def test_the_default_seq_fits_the_model(command, model, given, seq):
    from zoforge.cli import build_parser
    from zoforge.cli.train import command_options
    args = build_parser().parse_args([command, "--model", model, "--task", "synthetic", *given])
    opts, _ = command_options(args, command)
    assert opts.seq == seq
