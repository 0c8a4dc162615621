"""Data: text and TSV parsing, deterministic splits and batches, prompt masking, one-line errors."""

import numpy as np
import pytest

from zoforge.host.config import preset
from zoforge.host.data import IGNORE, DataError, load_task, read_sst2, read_texts, stdlib_files, synthetic_task
from zoforge.host.data.common import epoch_indices
from zoforge.host.model import GPT
from zoforge.host.tokenizer import ByteTokenizer

TOK = ByteTokenizer()


def test_text_directory_split_and_batches(tmp_path):
    (tmp_path / "b.txt").write_text("hello world " * 50)
    (tmp_path / "a.txt").write_text("abc " * 50)
    (tmp_path / ".hidden").write_text("never read")
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00")                   # not UTF-8: skipped in a directory
    names = [n for n, _ in read_texts(tmp_path)]
    assert [n.rsplit("/", 1)[1] for n in names] == ["a.txt", "b.txt"]
    task = load_task("lm", tmp_path, TOK, 16, seed=3, val_fraction=0.2)
    total = 200 + 600 + 2
    assert len(task.train) + len(task.val) == total and len(task.val) == int(total * 0.2)
    a, b = task.batch(5, 4), task.batch(5, 4)
    assert np.array_equal(a.tokens, b.tokens) and not np.array_equal(a.tokens, task.batch(6, 4).tokens)
    assert np.array_equal(a.tokens[:, 1:], a.targets[:, :-1])           # targets are the next tokens
    evals = task.eval_batches(4, 100)
    assert all(e.tokens.shape[1] == 16 for e in evals)
    assert sum(len(e.tokens) for e in evals) == (len(task.val) - 1) // 16


def test_text_errors_are_one_line(tmp_path):
    with pytest.raises(DataError, match="--data .*nope: not found"):
        read_texts(tmp_path / "nope")
    (tmp_path / "x.bin").write_bytes(b"\xff\xff")
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_texts(tmp_path / "x.bin")
    (tmp_path / "short.txt").write_text("abc")
    with pytest.raises(DataError, match="too few for --seq 64"):
        load_task("lm", tmp_path / "short.txt", TOK, 64)
    with pytest.raises(DataError, match="no UTF-8 text"):
        (tmp_path / "empty").mkdir()
        read_texts(tmp_path / "empty")


def test_sst2_tsv_with_and_without_header(tmp_path):
    rows = [f"sentence number {i}\t{i % 2}" for i in range(30)]
    (tmp_path / "h.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    (tmp_path / "n.tsv").write_text("\n".join(rows))
    th, vh = read_sst2(tmp_path / "h.tsv")
    tn, vn = read_sst2(tmp_path / "n.tsv")
    assert th == tn and vh == vn and len(th) == 27 and len(vh) == 3
    assert {e.label for e in th + vh} == {0, 1}
    d = tmp_path / "dir"
    d.mkdir()
    (d / "train.tsv").write_text("\n".join(rows[:20]))
    (d / "dev.tsv").write_text("sentence\tlabel\n" + "\n".join(rows[20:]))
    t, v = read_sst2(d)
    assert len(t) == 20 and len(v) == 10


@pytest.mark.parametrize("content,message", [
    ("no tab here\n", r"bad.tsv:1: expected 'sentence<TAB>label'"),
    ("good\t1\nbad\tx\n", r"bad.tsv:2: label 'x' is not an integer"),
    ("good\t1\nbad\t7\n", r"bad.tsv:2: label 7 is out of range; labels must be in \[0, 1\]"),
    ("sentence\tlabel\n", r"bad.tsv: contains no examples"),
])
def test_sst2_errors_name_file_and_line(tmp_path, content, message):
    (tmp_path / "bad.tsv").write_bytes(content.encode())
    with pytest.raises(DataError, match=message):
        read_sst2(tmp_path / "bad.tsv")


def test_sst2_missing_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_sst2(tmp_path / "none.tsv")
    with pytest.raises(DataError, match="lacks train.tsv and dev.tsv"):
        read_sst2(tmp_path)


def test_prompt_masking_puts_the_loss_on_the_label_word_only(tmp_path):
    (tmp_path / "d.tsv").write_text("a fine film\t1\nawful\t0\n" * 10)
    task = load_task("sst2", tmp_path / "d.tsv", TOK, 40)
    b = task.batch(0, 4)
    for row, tgt, label in zip(b.tokens, b.targets, b.labels):
        word = [" terrible", " great"][label]
        kept = tgt[tgt != IGNORE]
        assert TOK.decode(kept) == word
        first = int(np.flatnonzero(tgt != IGNORE)[0])
        assert TOK.decode(row[:first + 1]).endswith("It was")         # predicts the word after the prompt


def test_long_sentences_keep_the_end_of_the_prompt(tmp_path):
    (tmp_path / "d.tsv").write_text(("x" * 500) + "\t1\n" + "y\t0\n")
    task = load_task("sst2", tmp_path / "d.tsv", TOK, 32)
    b = task._rows([task.train[0] if len(task.train[0]) > 20 else task.val[0]], [1])
    assert TOK.decode(b.tokens[0]).endswith("It was grea") and (b.targets[0] != IGNORE).sum() == len(" great")


def test_classification_accuracy_is_argmax_over_label_words():
    task = synthetic_task(TOK, 48)
    result = task.evaluate(GPT(preset("tiny")), 16, 2)
    assert set(result) == {"loss", "accuracy"} and 0 <= result["accuracy"] <= 1 and result["loss"] > 0

    class FavoursP:                      # uniform logits, but 'p' is e**5 times likelier: " positive" wins
        config = preset("tiny")

        def logits(self, tokens):
            out = np.zeros(tokens.shape + (257,), np.float32)
            out[..., ord("p")] = 5.0
            return out

    labels = task.val_labels[:32]
    result = task.evaluate(FavoursP(), 16, 2)
    assert result["accuracy"] == pytest.approx(np.mean(labels == 1))
    logz = np.log(256 + np.exp(5.0))
    per_token = np.where(labels == 1, (9 * logz - 5) / 9, logz)   # mean -log p over each label's 9 bytes
    assert result["loss"] == pytest.approx(per_token.mean())


def test_epoch_order_and_synthetic_task_are_deterministic():
    idx = np.concatenate([epoch_indices(4, s, 7, 20) for s in range(6)])
    assert sorted(idx[:20]) == list(range(20)) and sorted(idx[20:40]) == list(range(20))
    assert not np.array_equal(idx[:20], idx[20:40])
    a, b = synthetic_task(TOK, 48), synthetic_task(TOK, 48, seed=9)
    assert a.train == b.train and a.val == b.val
    assert not np.array_equal(a.batch(0, 8).tokens, b.batch(0, 8).tokens)


def test_stdlib_selection_is_deterministic_and_bounded():
    a, b = stdlib_files(300_000), stdlib_files(300_000)
    assert a == b and a and sum(p.stat().st_size for p in a) <= 300_000
    assert not any("site-packages" in p.parts or "test" in p.parts for p in a)
