"""GPT-2 model shapes: one frozen, validated config and named presets.

``GPTConfig`` follows the house spec style (``zoforge.golden.spec.Spec``): keyword-only fields, each
with its allowed range, one-line errors naming the field, its value and what is allowed, and a text
form ``gpt:block_size=...,n_layer=...`` that :func:`parse_config` reads back. It is deliberately not
registered as a hardware block kind (``zoforge gen`` has nothing to build from it).

The vocabulary is padded, as in llm.c (50257 -> 50304), to a multiple of 128 so the tied lm_head matmul
has a tile-friendly width (the NPU tiles are n=32 wide); logits of the padded columns are never used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import did_you_mean, shown
from ..golden.spec import Spec, SpecError, param

__all__ = ["GPTConfig", "PRESETS", "preset", "parse_config", "VOCAB_MULTIPLE", "LN_EPS", "NAMES", "shapes",
           "num_elements"]

VOCAB_MULTIPLE = 128
LN_EPS = 1e-5        # GPT-2's layer_norm_epsilon; fixed (checkpoints with another value are refused)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


@dataclass(frozen=True, kw_only=True)
class GPTConfig(Spec):
    """Shapes of a GPT-2 model (pre-LayerNorm, tanh-GELU, learned positions, tied lm_head)."""

    KIND = "gpt"
    SUMMARY = "GPT-2 model shape (layers, heads, width, vocabulary, context)"

    block_size: int = param(1024, lo=1, hi=1 << 16, doc="maximum sequence length (positions)")
    vocab_size: int = param(50257, lo=1, hi=1 << 22, doc="tokens the tokenizer produces")
    padded_vocab_size: int = param(0, lo=0, hi=1 << 22,
                                   shown=f"0 (auto) or a multiple of {VOCAB_MULTIPLE} >= vocab_size",
                                   doc="rows of wte; 0 rounds vocab_size up to a multiple of 128")
    n_layer: int = param(12, lo=1, hi=1024, doc="transformer blocks")
    n_head: int = param(12, lo=1, hi=1024, doc="attention heads (must divide n_embd)")
    n_embd: int = param(768, lo=1, hi=1 << 16, doc="channels")

    def __post_init__(self) -> None:
        if self.padded_vocab_size == 0 and isinstance(self.vocab_size, int) and not isinstance(self.vocab_size, bool):
            object.__setattr__(self, "padded_vocab_size", _round_up(max(self.vocab_size, 1), VOCAB_MULTIPLE))
        super().__post_init__()

    def validate(self) -> None:
        if self.padded_vocab_size < self.vocab_size or self.padded_vocab_size % VOCAB_MULTIPLE:
            self.fail("padded_vocab_size", f"is not allowed; it must be 0 (auto) or a multiple of "
                      f"{VOCAB_MULTIPLE} >= vocab_size={self.vocab_size}")
        if self.n_embd % self.n_head:
            self.fail("n_embd", f"is not divisible by n_head={self.n_head}; n_embd must be a multiple of n_head")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def num_parameters(self) -> int:
        """Trainable parameters as Hugging Face counts them (wte unpadded, lm_head tied)."""
        return num_elements(self) - (self.padded_vocab_size - self.vocab_size) * self.n_embd


#: Parameter tensors in storage order (llm.c's layout; see :mod:`zoforge.host.params`).
NAMES = ("wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb")


def shapes(cfg: GPTConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape, in storage order."""
    C, L, Vp = cfg.n_embd, cfg.n_layer, cfg.padded_vocab_size
    return {
        "wte": (Vp, C), "wpe": (cfg.block_size, C),
        "ln1w": (L, C), "ln1b": (L, C),
        "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C),
        "attprojw": (L, C, C), "attprojb": (L, C),
        "ln2w": (L, C), "ln2b": (L, C),
        "fcw": (L, 4 * C, C), "fcb": (L, 4 * C),
        "fcprojw": (L, C, 4 * C), "fcprojb": (L, C),
        "lnfw": (C,), "lnfb": (C,),
    }


def num_elements(cfg: GPTConfig) -> int:
    """Length of the flat vector (includes wte's padded rows)."""
    return sum(math.prod(s) for s in shapes(cfg).values())


#: name -> (config, description). ``small``/``quick``/``tiny`` use the byte tokenizer (256 bytes + end-of-text).
PRESETS: dict[str, tuple[GPTConfig, str]] = {
    "gpt2": (GPTConfig(), "GPT-2 124M: 12 layers, 12 heads, 768 channels, 50257 tokens"),
    "gpt2-medium": (GPTConfig(n_layer=24, n_head=16, n_embd=1024), "GPT-2 350M"),
    "gpt2-large": (GPTConfig(n_layer=36, n_head=20, n_embd=1280), "GPT-2 774M"),
    "gpt2-xl": (GPTConfig(n_layer=48, n_head=25, n_embd=1600), "GPT-2 1558M"),
    "small": (GPTConfig(block_size=256, vocab_size=257, n_layer=4, n_head=4, n_embd=128),
              "4 layers, 4 heads, 128 channels, byte vocabulary (pretrain default)"),
    "quick": (GPTConfig(block_size=128, vocab_size=257, n_layer=3, n_head=3, n_embd=96),
              "3 layers, 3 heads, 96 channels, byte vocabulary (the `make run` base model)"),
    "tiny": (GPTConfig(block_size=64, vocab_size=257, n_layer=2, n_head=2, n_embd=64),
             "2 layers, 2 heads, 64 channels, byte vocabulary (tests)"),
}


def preset(name: str) -> GPTConfig:
    if name not in PRESETS:
        raise SpecError(f"gpt: preset {name!r} is unknown; use one of {'|'.join(PRESETS)}"
                        + did_you_mean(name, PRESETS))
    return PRESETS[name][0]


def parse_config(text: str) -> GPTConfig:
    """``gpt2``, ``tiny`` ..., ``gpt:key=value,...`` or ``PRESET:key=value,...`` (a preset with overrides)."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"gpt: {shown(text)} is empty; write a preset ({'|'.join(PRESETS)}) or gpt:key=value,...")
    head, sep, body = text.strip().partition(":")
    base = GPTConfig() if head == GPTConfig.KIND else preset(head)
    fields = [name for name, _, _ in GPTConfig.parameters()]
    changes: dict[str, int] = {}
    for item in body.split(",") if sep else []:
        key, eq, raw = (s.strip() for s in item.partition("="))
        if not eq or not raw:
            raise SpecError(f"gpt: item {shown(item)} is malformed; write key=value (keys: {', '.join(fields)})")
        if key not in fields:
            raise SpecError(f"gpt: key {shown(key)} is unknown; keys are {', '.join(fields)}")
        try:
            changes[key] = int(raw, 0)
        except ValueError:
            raise SpecError(f"gpt: {key}={shown(raw)} is not an integer") from None
    if "vocab_size" in changes and "padded_vocab_size" not in changes:
        changes["padded_vocab_size"] = 0          # re-derive the padding for the new vocabulary
    return base.replace(**changes)
