"""Tokenizers: bytes (the default, needs no files) and GPT-2 BPE from local files through ``tiktoken``.

The GPT-2 BPE is built from a user's ``encoder.json`` + ``vocab.bpe`` (the files that come with every
GPT-2 checkpoint; a Hugging Face directory names them ``vocab.json`` + ``merges.txt``) without any
network access: ``tiktoken.Encoding`` gets GPT-2's pre-tokenizer regex and
the "mergeable ranks" (token bytes -> id). GPT-2's ids are its merge ranks: the 256 byte tokens first,
then one id per line of vocab.bpe, in order; that is checked, because tiktoken merges by rank.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Protocol

__all__ = ["Tokenizer", "TokenizerError", "ByteTokenizer", "BpeTokenizer", "load_tokenizer",
           "GPT2_PATTERN", "EOT_TEXT"]

#: GPT-2's pre-tokenizer: contractions, letters, digits, other symbols, whitespace (optionally led by a space).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT_TEXT = "<|endoftext|>"
ENCODER, MERGES = "encoder.json", "vocab.bpe"
HF_ENCODER, HF_MERGES = "vocab.json", "merges.txt"     # the same files under Hugging Face's names


class TokenizerError(ValueError):
    """One line: which tokenizer files are missing or wrong, and how."""


class Tokenizer(Protocol):
    name: str
    files: dict         # name in a checkpoint -> the file it was read from
    vocab_size: int     # ids are in [0, vocab_size)
    eot: int            # end-of-text id, separating documents

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as tokens 0..255, plus end-of-text = 256 (vocab 257, the ``tiny``/``small`` presets)."""

    name = "bytes"
    vocab_size = 257
    eot = 256
    files: dict = {}    # no files to carry with a checkpoint

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(int(i) for i in ids if int(i) < 256).decode("utf-8", errors="replace")


def _unicode_to_byte() -> dict[str, int]:
    """GPT-2's files spell every byte as a printable character: bytes that print as themselves
    (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) keep their code point, the other 68 become U+0100 onwards
    in byte order. Returns character -> byte."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {chr(b): b for b in keep}
    shifted = (b for b in range(256) if b not in table.values())
    for n, b in enumerate(shifted):
        table[chr(256 + n)] = b
    return table


class BpeTokenizer:
    """GPT-2 byte-level BPE (tiktoken) built from ``encoder.json`` and ``vocab.bpe`` in ``folder``."""

    name = "gpt2-bpe"

    def __init__(self, folder: str | os.PathLike):
        import tiktoken

        folder = pathlib.Path(folder)
        enc_file, bpe_file = folder / ENCODER, folder / MERGES
        if not enc_file.is_file() and not bpe_file.is_file() and (folder / HF_ENCODER).is_file():
            enc_file, bpe_file = folder / HF_ENCODER, folder / HF_MERGES       # a Hugging Face GPT-2 directory
        missing = [f.name for f in (enc_file, bpe_file) if not f.is_file()]
        if missing:
            raise TokenizerError(f"{folder}: GPT-2 BPE needs {ENCODER} and {MERGES}; missing {' and '.join(missing)} "
                                 "(or use the byte tokenizer, which needs no files)")
        try:
            encoder = json.loads(enc_file.read_text(encoding="utf-8"))
            merges = bpe_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TokenizerError(f"{folder}: cannot read the BPE files ({e.__class__.__name__}: {e})") from None
        if not isinstance(encoder, dict) or not all(isinstance(v, int) for v in encoder.values()):
            raise TokenizerError(f"{enc_file}: must be a JSON object of token -> integer id")
        ranks = _ranks(encoder, merges, enc_file, bpe_file)
        self.files = {HF_ENCODER: enc_file, HF_MERGES: bpe_file}   # what a checkpoint carries, HF's names
        specials = {t: i for t, i in encoder.items() if t.startswith("<|") and t.endswith("|>")}
        if EOT_TEXT not in specials:
            raise TokenizerError(f"{enc_file}: has no {EOT_TEXT} token")
        self.eot = specials[EOT_TEXT]
        self.vocab_size = max(encoder.values()) + 1
        self._enc = tiktoken.Encoding("gpt2-local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                                      special_tokens=specials)

    def encode(self, text: str) -> list[int]:
        """Text -> ids; special-token text such as ``<|endoftext|>`` is encoded as ordinary text."""
        return self._enc.encode_ordinary(text)

    def decode(self, ids) -> str:
        return self._enc.decode([int(i) for i in ids], errors="replace")


def _ranks(encoder: dict[str, int], merges: list[str], enc_file, bpe_file) -> dict[bytes, int]:
    """token bytes -> id for every non-special token, after checking ids are GPT-2's merge ranks."""
    to_byte = _unicode_to_byte()

    def as_bytes(token: str, where) -> bytes:
        try:
            return bytes(to_byte[ch] for ch in token)
        except KeyError as e:
            raise TokenizerError(f"{where}: token {token!r} has character {e.args[0]!r}, which is not in "
                                 "GPT-2's byte alphabet") from None

    ranks = {as_bytes(t, enc_file): i for t, i in encoder.items() if not (t.startswith("<|") and t.endswith("|>"))}
    singles = sorted(i for b, i in ranks.items() if len(b) == 1)
    if singles != list(range(256)):
        raise TokenizerError(f"{enc_file}: the 256 single-byte tokens must have ids 0..255")
    lines = [ln for ln in merges if ln and not ln.startswith("#version")]
    for n, line in enumerate(lines):
        parts = line.split(" ")
        if len(parts) != 2:
            raise TokenizerError(f"{bpe_file}: merge {n + 1} {line!r} is not two tokens separated by a space")
        merged = as_bytes(parts[0] + parts[1], bpe_file)
        if ranks.get(merged) != 256 + n:
            raise TokenizerError(f"{bpe_file}: merge {n + 1} {line!r} gives id {ranks.get(merged)} in {ENCODER}; "
                                 f"GPT-2 BPE needs {256 + n} (ids in merge order)")
    if len(ranks) != 256 + len(lines):
        raise TokenizerError(f"{enc_file}: {len(ranks)} tokens, but 256 bytes + {len(lines)} merges = "
                             f"{256 + len(lines)}")
    return ranks


def load_tokenizer(spec: str | os.PathLike | None = None) -> ByteTokenizer | BpeTokenizer:
    """``None`` or ``"bytes"``: the byte tokenizer; otherwise a folder with encoder.json + vocab.bpe."""
    if spec is None or str(spec) == "bytes":
        return ByteTokenizer()
    folder = pathlib.Path(spec)
    if not folder.is_dir():
        raise TokenizerError(f"{folder}: not a folder; give 'bytes' or a folder with {ENCODER} and {MERGES}")
    return BpeTokenizer(folder)
