"""GPTConfig: presets, derived padding, one-line validation errors, text form."""

from __future__ import annotations

import pytest

from zoforge.golden.spec import SpecError
from zoforge.host.config import PRESETS, GPTConfig, parse_config, preset


def test_gpt2_preset_is_124m():
    cfg = preset("gpt2")
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.padded_vocab_size) == (12, 12, 768, 50257, 50304)
    assert cfg.num_parameters == 124_439_808          # as Hugging Face counts it (tied lm_head)
    assert preset("gpt2-medium").num_parameters == 354_823_168


@pytest.mark.parametrize("name", PRESETS)
def test_presets_round_trip_through_text(name):
    cfg = preset(name)
    assert parse_config(str(cfg)) == cfg
    assert cfg.padded_vocab_size % 128 == 0 and cfg.padded_vocab_size >= cfg.vocab_size


def test_preset_with_overrides():
    cfg = parse_config("tiny:n_layer=3,vocab_size=1000")
    assert cfg.n_layer == 3 and cfg.vocab_size == 1000 and cfg.padded_vocab_size == 1024
    assert cfg.n_embd == preset("tiny").n_embd


@pytest.mark.parametrize("kwargs, message", [
    ({"n_layer": 0}, r"gpt: n_layer=0 is out of range; n_layer must be an integer in \[1, 1024\]"),
    ({"n_head": 5}, "gpt: n_embd=768 is not divisible by n_head=5"),
    ({"padded_vocab_size": 50300},
     "gpt: padded_vocab_size=50300 is not allowed; it must be 0 .auto. or a multiple of 128"),
    ({"padded_vocab_size": 128, "vocab_size": 300}, r"padded_vocab_size=128 .* >= vocab_size=300"),
    ({"n_embd": "768"}, "gpt: n_embd='768' is not an integer"),
])
def test_invalid_configs(kwargs, message):
    with pytest.raises(SpecError, match=message) as e:
        GPTConfig(**kwargs)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("huge", "preset 'huge' is unknown"),
    ("gpt:n_layers=2", "key 'n_layers' is unknown"),
    ("gpt:n_layer", "is malformed"),
    ("gpt:n_layer=two", "n_layer='two' is not an integer"),
    ("", "is empty"),
])
def test_parse_errors(text, message):
    with pytest.raises(SpecError, match=message):
        parse_config(text)
