"""Classification as language modelling, MeZO style: a prompt template and one label word per class.

An example ``(sentence, label)`` becomes the tokens of ``template.format(sentence=...)`` followed by the
label's word; the loss is taken only on the label word's tokens (every other target is IGNORE), and
accuracy is the argmax over the classes of the log-likelihood of their label words after the prompt.
Sequences are right-padded with end-of-text to T (padding comes after everything the loss looks at, so
causal attention never lets it matter); a long sentence loses its beginning, never the template's end.

Files: the SST-2 layout, ``sentence<TAB>label`` per line with an optional header line
(``sentence<TAB>label``); a directory holds ``train.tsv`` and ``dev.tsv``. A single file is split
deterministically: the last ``val_fraction`` of a fixed shuffle (seed 0, whatever the run's seed).
"""

from __future__ import annotations

import os
import pathlib
import string
from dataclasses import dataclass

import numpy as np

from ...errors import shown
from .common import IGNORE, Batch, DataError, epoch_indices
from .scoring import sequence_logprob

__all__ = ["Example", "read_tsv", "read_sst2", "ClassifyTask", "SST2_TEMPLATE", "SST2_LABELS"]

SST2_TEMPLATE = "{sentence} It was"               # MeZO's SST-2 prompt
SST2_LABELS = (" terrible", " great")             # label 0, label 1


@dataclass(frozen=True)
class Example:
    text: str
    label: int


def read_tsv(path: pathlib.Path, classes: int) -> list[Example]:
    """``sentence<TAB>label`` lines; a first line whose label is not an integer is a header."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"--data {path}: not found") from None
    except UnicodeDecodeError as e:
        raise DataError(f"--data {path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise DataError(f"--data {path}: cannot read ({e.strerror})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        if not tab:
            raise DataError(f"--data {path}:{n}: expected 'sentence<TAB>label', found no tab in {line[:60]!r}")
        label = label.strip()
        if not label.lstrip("-").isdigit():
            if n == 1 and not out:
                continue                            # header
            raise DataError(f"--data {path}:{n}: label {label[:20]!r} is not an integer")
        if not 0 <= int(label) < classes:
            raise DataError(f"--data {path}:{n}: label {label} is out of range; labels must be in "
                            f"[0, {classes - 1}] (one per label word)")
        out.append(Example(text, int(label)))
    if not out:
        raise DataError(f"--data {path}: contains no examples")
    return out


def read_sst2(path: str | os.PathLike, classes: int = 2, val_fraction: float = 0.1
              ) -> tuple[list[Example], list[Example]]:
    """(train, val) from a TSV file or a directory with train.tsv and dev.tsv."""
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f"--data {path}: not found (give an SST-2 style .tsv file or a directory with "
                        "train.tsv and dev.tsv)")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"--data {path}: not a regular file or a directory (a device or FIFO is not read)")
    if path.is_dir():
        missing = [f for f in ("train.tsv", "dev.tsv") if not (path / f).is_file()]
        if missing:
            raise DataError(f"--data {path}: directory lacks {' and '.join(missing)}")
        train, val = read_tsv(path / "train.tsv", classes), read_tsv(path / "dev.tsv", classes)
        check_classes(range(classes), train + val, f"--data {path}")
        return train, val
    examples = read_tsv(path, classes)
    check_classes(range(classes), examples, f"--data {path}")
    if len(examples) < 2:
        raise DataError(f"--data {path}: {len(examples)} example is too few to split into train and validation")
    order = np.random.default_rng(0).permutation(len(examples))
    n_val = max(1, int(len(examples) * val_fraction))
    return [examples[i] for i in order[:-n_val]], [examples[i] for i in order[-n_val:]]


def check_template(template: str) -> str:
    """A prompt template with ``{sentence}`` and no other field (``{{``/``}}`` for literal braces)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise DataError(f"--template {shown(template)} is malformed ({e}); "
                        f"write {{{{ and }}}} for literal braces") from None
    if "sentence" not in fields:
        raise DataError(f"--template {shown(template)} has no {{sentence}} placeholder")
    if fields != {"sentence"}:
        other = sorted(fields - {"sentence"})
        raise DataError(f"--template {shown(template)} " + (f"has unknown field {{{other[0]}}}; " if other else "") +
                        "the only field is {sentence} (write {{ and }} for literal braces)")
    return template


def check_classes(labels, examples, where: str) -> None:
    """The label words must name exactly the classes the data uses (0 .. n-1)."""
    top = max(e.label for e in examples) + 1
    if top != len(labels):
        raise DataError(f"--labels has {len(labels)} label words but {where} has {top} classes "
                        f"(labels 0..{top - 1}); give one label word per class")


class ClassifyTask:
    kind = "sst2"

    def __init__(self, train: list[Example], val: list[Example], tokenizer, seq: int, *,
                 template: str = SST2_TEMPLATE, labels=SST2_LABELS, seed: int = 0):
        check_template(template)
        self.template, self.label_words = template, tuple(labels)
        self.label_ids = [tokenizer.encode(w) for w in self.label_words]
        if any(not ids for ids in self.label_ids):
            raise DataError(f"--labels {','.join(self.label_words)!r}: a label word is empty")
        longest = max(map(len, self.label_ids))
        if longest + 1 > seq:
            raise DataError(f"--seq {seq} is too short for label words of {longest} tokens")
        self.tokenizer, self.seq, self.seed = tokenizer, seq, seed
        self.train = [self._prompt(e) for e in train]
        self.val = [self._prompt(e) for e in val]
        self.train_labels = np.array([e.label for e in train])
        self.val_labels = np.array([e.label for e in val])

    def describe(self) -> str:
        return (f"classification, {len(self.train)} train / {len(self.val)} val examples, "
                f"template {self.template!r}, labels {'|'.join(self.label_words)}")

    def _prompt(self, e: Example) -> list[int]:
        ids = self.tokenizer.encode(self.template.format(sentence=e.text))
        room = self.seq + 1 - max(map(len, self.label_ids))
        return ids[-room:]

    def _rows(self, prompts, labels) -> Batch:
        """Input/target rows for prompts followed by the label words of ``labels``."""
        T, eot = self.seq, self.tokenizer.eot
        tokens = np.full((len(prompts), T), eot, dtype=np.int32)
        targets = np.full((len(prompts), T), IGNORE, dtype=np.int32)
        for r, (p, c) in enumerate(zip(prompts, labels)):
            seq = p + self.label_ids[c]
            tokens[r, :len(seq) - 1] = seq[:-1]
            targets[r, len(p) - 1:len(seq) - 1] = self.label_ids[c]
        return Batch(tokens, targets, np.asarray(labels))

    def batch(self, step: int, batch: int) -> Batch:
        idx = epoch_indices(self.seed, step, batch, len(self.train))
        return self._rows([self.train[i] for i in idx], self.train_labels[idx])

    def evaluate(self, model, batch: int, max_batches: int) -> dict:
        """Loss on the true label words and accuracy (argmax of the label words' log-likelihoods), over
        the first ``batch * max_batches`` validation examples."""
        n = min(len(self.val), batch * max_batches)
        prompts, labels = self.val[:n], self.val_labels[:n]
        scores = np.stack([self._scores(model, prompts, [c] * n) for c in range(len(self.label_words))], axis=1)
        true_tokens = np.array([len(self.label_ids[c]) for c in labels])
        loss = -float(np.sum(scores[np.arange(n), labels])) / float(true_tokens.sum())
        accuracy = float(np.mean(np.argmax(scores, axis=1) == labels))
        return {"loss": loss, "accuracy": accuracy}

    def _scores(self, model, prompts, labels) -> np.ndarray:
        """Sum of log-probabilities of each row's label-word tokens."""
        b = self._rows(prompts, labels)
        return sequence_logprob(model, b.tokens, b.targets)
