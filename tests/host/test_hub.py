"""--init by Hugging Face hub name, offline: a hub cache built here (the hub's own layout: blobs,
snapshots/<revision>/ links, refs/main) from a tiny checkpoint zoforge trained with a GPT-2 BPE
tokenizer; the checkpoint carries that tokenizer. A name missing from the cache is one line saying what
to download and where."""

import hashlib
import json
import os

import pytest

from tests.host.cli_util import run
from tests.host.test_tokenizer import _write_bpe
from zoforge.host.hub import HUB_FILES, is_hub_name
from zoforge.host.runstate import MANIFEST, latest_checkpoint

pytest.importorskip("huggingface_hub", reason="the hub extra is not installed")

SHAPE = "gpt:vocab_size=266,block_size=32,n_layer=1,n_head=2,n_embd=16"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _hub_cache(cache, repo_id, folder):
    """``cache/models--org--name`` holding ``folder``'s files as the hub stores a download."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for name in HUB_FILES:
        data = (folder / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return cache


def test_a_hub_name_fine_tunes_from_the_cache_offline(tmp_path, capsys, offline_cache):
    bpe = tmp_path / "bpe"
    bpe.mkdir()
    _write_bpe(bpe)
    (tmp_path / "text.txt").write_text("hello world, hello verilog world\n" * 30)
    data = ["--task", "lm", "--data", tmp_path / "text.txt", "--seq", "16", "--batch", "4"]
    code, _, err = run(capsys, "train", "--model", SHAPE, "--tokenizer", bpe, *data, "--steps", "2",
                       "--optimizer", "adamw", "--lr", "1e-3", "--no-progress", "-o", tmp_path / "made")
    assert code == 0, err
    made = latest_checkpoint(tmp_path / "made")
    listed = json.loads((made / MANIFEST).read_text())["files"]
    assert {"vocab.json", "merges.txt"} <= set(listed)                  # the tokenizer travels with it
    assert (made / "vocab.json").read_bytes() == (bpe / "encoder.json").read_bytes()
    _hub_cache(offline_cache, "zoforge-test/tiny-gpt2", made)

    assert is_hub_name("zoforge-test/tiny-gpt2")
    code, out, err = run(capsys, "train", "--init", "zoforge-test/tiny-gpt2", *data, "--steps", "2",
                         "--optimizer", "pezo", "--lr", "1e-3", "--no-progress", "-o", tmp_path / "tuned")
    assert code == 0 and "done: 2 steps" in out, err
    code, out, err = run(capsys, "eval", "--init", "zoforge-test/tiny-gpt2", *data)
    assert code == 0 and "perplexity" in out, err
    code, out, err = run(capsys, "sample", "--init", tmp_path / "tuned", "--prompt", "hello", "--tokens", "4")
    assert code == 0 and out.startswith("hello"), err                  # BPE found in the tuned checkpoint


def test_a_name_missing_from_the_cache_says_what_to_download(tmp_path, capsys, offline_cache):
    code, _, err = run(capsys, "eval", "--init", "gpt2", "--task", "synthetic")
    assert code == 2 and err.count("\n") == 1, err
    assert f"hf download gpt2 config.json model.safetensors vocab.json merges.txt --cache-dir {offline_cache}" in err


def test_a_local_path_is_never_a_hub_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert not is_hub_name("runs/missing")          # a mistyped run folder: "not found", not a download
    assert not is_hub_name("model.bin") and not is_hub_name("../x") and not is_hub_name("/abs/x")
    assert is_hub_name("gpt2") and is_hub_name("openai-community/gpt2-medium")
