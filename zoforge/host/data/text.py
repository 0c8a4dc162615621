"""Language modelling on plain text: a file, a directory of files, or a list of files.

Files are read in sorted path order, each encoded and followed by the end-of-text token, all
concatenated into one token stream. The last ``val_fraction`` of the stream is the validation split
(deterministic, nanoGPT style). A training batch is B windows of T+1 tokens at offsets drawn from
(seed, step); evaluation uses non-overlapping windows from the start of the validation split and
reports the loss per token and the next-token (top-1) accuracy.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from ...limits import check_memory
from .common import Batch, DataError
from .scoring import token_stats

__all__ = ["read_texts", "TextTask"]

#: Memory per byte of text while reading and tokenizing it (the text, its token list, the id array).
_BYTES_PER_CHAR = 16


def _files_under(root: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))


def read_texts(path: str | os.PathLike | list) -> list[tuple[str, str]]:
    """(name, text) of a file, of every UTF-8 file under a directory (hidden ones skipped), or of a list
    of files. Raises DataError for a missing path, an undecodable single file, or no text at all."""
    if isinstance(path, (list, tuple)):
        files = [pathlib.Path(p) for p in path]
        where = f"{len(files)} files"
    else:
        root = pathlib.Path(path)
        if not root.exists():
            raise DataError(f"--data {root}: not found (give a text file or a directory of text files)")
        if not root.is_dir() and not root.is_file():
            raise DataError(f"--data {root}: not a regular file or a directory (a device or FIFO is not read)")
        files = _files_under(root) if root.is_dir() else [root]
        where = str(root)
    try:
        total = sum(f.stat().st_size for f in files)
    except OSError as e:
        raise DataError(f"--data {e.filename}: cannot read ({e.strerror})") from None
    check_memory(_BYTES_PER_CHAR * total, f"--data {where} ({total:,} bytes of text)")
    texts = []
    for f in files:
        try:
            texts.append((str(f), f.read_bytes().decode("utf-8")))
        except UnicodeDecodeError as e:
            if len(files) == 1:
                raise DataError(f"--data {f}: not UTF-8 text (byte {e.start}: {e.reason})") from None
        except OSError as e:
            raise DataError(f"--data {f}: cannot read ({e.strerror})") from None
    if not any(t for _, t in texts):
        raise DataError(f"--data {where}: contains no UTF-8 text")
    return texts


class TextTask:
    kind = "lm"

    def __init__(self, texts: list[tuple[str, str]], tokenizer, seq: int, *, val_fraction: float = 0.1,
                 seed: int = 0):
        ids: list[int] = []
        for _, text in texts:
            ids += tokenizer.encode(text)
            ids.append(tokenizer.eot)
        tokens = np.asarray(ids, dtype=np.int32)
        n_val = max(seq + 1, int(len(tokens) * val_fraction))
        if len(tokens) - n_val < seq + 1:
            raise DataError(f"--data: {len(tokens)} tokens are too few for --seq {seq} with a validation split "
                            f"of {n_val}; need at least {n_val + seq + 1}")
        self.train, self.val = tokens[:-n_val], tokens[-n_val:]
        self.seq, self.seed, self.tokenizer = seq, seed, tokenizer

    def describe(self) -> str:
        return f"language modelling, {len(self.train):,} train / {len(self.val):,} val tokens"

    def batch(self, step: int, batch: int) -> Batch:
        T = self.seq
        rng = np.random.default_rng([self.seed, step])
        starts = rng.integers(0, len(self.train) - T, size=batch)
        rows = np.stack([self.train[s:s + T + 1] for s in starts])
        return Batch(rows[:, :-1], rows[:, 1:])

    def eval_batches(self, batch: int, max_batches: int) -> list[Batch]:
        T = self.seq
        starts = list(range(0, len(self.val) - T, T))[:batch * max_batches]
        out = []
        for i in range(0, len(starts), batch):
            rows = np.stack([self.val[s:s + T + 1] for s in starts[i:i + batch]])
            out.append(Batch(rows[:, :-1], rows[:, 1:]))
        return out

    def evaluate(self, model, batch: int, max_batches: int) -> dict:
        """Mean loss per token over the validation windows, and next-token accuracy (top-1)."""
        nll, hits, count = 0.0, 0, 0
        for b in self.eval_batches(batch, max_batches):
            n, h, c = token_stats(model, b.tokens, b.targets)
            nll, hits, count = nll + n, hits + h, count + c
        return {"loss": nll / count, "accuracy": hits / count}
