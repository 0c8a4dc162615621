"""Tokenizers: bytes, and GPT-2 BPE from small encoder.json / vocab.bpe files made here."""

from __future__ import annotations

import json

import pytest

from zoforge.host.tokenizer import BpeTokenizer, ByteTokenizer, TokenizerError, load_tokenizer

# GPT-2's file alphabet: printable bytes stand for themselves, the rest move to U+0100 onwards in order.
_PRINTABLE = [*range(33, 127), *range(161, 173), *range(174, 256)]
_CHAR = {b: chr(b) for b in _PRINTABLE}
_CHAR.update({b: chr(256 + n) for n, b in enumerate(b for b in range(256) if b not in _CHAR)})
MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"),
          ("Ġwor", "l"), ("Ġworl", "d")]


def _write_bpe(folder, merges=MERGES, shuffle_ids=False):
    encoder = {_CHAR[b]: i for i, b in enumerate([*_PRINTABLE, *(b for b in range(256) if b not in _PRINTABLE)])}
    for n, (a, b) in enumerate(merges):
        encoder[a + b] = 256 + n
    if shuffle_ids:
        encoder["he"], encoder["ll"] = encoder["ll"], encoder["he"]
    encoder["<|endoftext|>"] = len(encoder)
    (folder / "encoder.json").write_text(json.dumps(encoder), encoding="utf-8")
    (folder / "vocab.bpe").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    return folder


def test_alphabet_facts():
    assert _CHAR[ord(" ")] == "Ġ" and _CHAR[ord("\n")] == "Ċ"


def test_bytes_round_trip():
    tok = load_tokenizer()
    assert isinstance(tok, ByteTokenizer) and tok.vocab_size == 257 and tok.eot == 256
    text = "héllo wörld 🎉\n\t"
    assert tok.encode(text) == list(text.encode())
    assert tok.decode(tok.encode(text) + [tok.eot]) == text     # end-of-text decodes to nothing


def test_bpe_from_local_files(tmp_path):
    tok = load_tokenizer(_write_bpe(tmp_path))
    assert isinstance(tok, BpeTokenizer)
    assert tok.encode("hello world") == [256 + 3, 256 + 8]
    assert tok.encode("hell") == [256 + 2]
    assert tok.eot == 256 + len(MERGES) and tok.vocab_size == tok.eot + 1
    for text in ["hello world", "héllo  wörld 🎉\n\tit's", "<|endoftext|>"]:
        assert tok.decode(tok.encode(text)) == text
    assert tok.encode("<|endoftext|>") != [tok.eot]                # special text is ordinary text


def test_bpe_files_missing(tmp_path):
    with pytest.raises(TokenizerError, match="needs encoder.json and vocab.bpe; missing encoder.json and vocab.bpe"):
        load_tokenizer(tmp_path)
    with pytest.raises(TokenizerError, match="not a folder"):
        load_tokenizer(tmp_path / "absent")


@pytest.mark.parametrize("break_it, message", [
    (lambda d: (d / "encoder.json").write_text("{"), "cannot read the BPE files"),
    (lambda d: (d / "encoder.json").write_text('{"a": "x"}'), "token -> integer id"),
    (lambda d: _write_bpe(d, shuffle_ids=True), r"merge 1 'h e' gives id 257 in encoder.json; GPT-2 BPE needs 256"),
    (lambda d: (d / "vocab.bpe").write_text("#version: 0.2\nh e x\n"), "is not two tokens"),
    (lambda d: (d / "vocab.bpe").write_text("#version: 0.2\nh e\n"), "but 256 bytes \\+ 1 merges"),
])
def test_bpe_files_inconsistent(tmp_path, break_it, message):
    _write_bpe(tmp_path)
    break_it(tmp_path)
    with pytest.raises(TokenizerError, match=message):
        load_tokenizer(tmp_path)
