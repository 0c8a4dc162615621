"""The spec-string grammar: round trips, presets, and one clear error for every kind of bad input."""

import pytest

from tests.util import assert_spec_error
from zoforge.golden.spec import SpecError, kinds, parse, presets
from zoforge.npu import design as _npu_design  # noqa: F401  (the gemm kind is checked with the others)

DESIGN_EXAMPLES = ["lfsr:width=32,lanes=8", "gaussian:method=clt,n=4,lanes=8,bits=16",
                   "pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm"]


def test_every_kind_has_a_default_that_round_trips():
    for kind in kinds():
        spec = parse(kind)
        assert parse(str(spec)) == spec
        assert str(parse(str(spec))) == str(spec)


def test_every_preset_parses_and_round_trips():
    for name, (text, _) in presets().items():
        spec = parse(name)
        assert spec == parse(text)
        assert parse(str(spec)) == spec


@pytest.mark.parametrize("text", DESIGN_EXAMPLES)
def test_design_examples_parse_as_written(text):
    if text.split(":")[0] not in kinds():
        pytest.skip(f"kind of {text} not registered")
    spec = parse(text)
    for item in text.split(":")[1].split(","):
        key, value = item.split("=")
        assert str(getattr(spec, key)) == value


@pytest.mark.parametrize("text, words", [
    ("", ["empty"]),
    ("nosuchkind", ["kind", "nosuchkind", "lfsr"]),
    ("lfsr:", ["nothing after"]),
    ("lfsr:width", ["malformed", "width"]),
    ("lfsr:width=", ["malformed"]),
    ("lfsr:=3", ["malformed"]),
    ("lfsr:width=8,,lanes=2", ["malformed"]),
    ("lfsr:Width=8", ["malformed"]),
    ("lfsr:colour=red", ["colour", "unknown", "width"]),
    ("lfsr:width=8,width=9", ["width", "twice"]),
    ("lfsr:width=eight", ["width", "eight", "integer"]),
    ("lfsr:width=8,seed=0", ["seed=0", "lock-up", "[1, 255]"]),
    ("lfsr:width=8,seed=256", ["seed=256", "[1, 255]"]),
    ("lfsr:width=8,poly=0x1ff", ["poly=0x1ff", "primitive"]),
    ("lfsr:width=8,poly=0x3", ["poly=0x3", "degree"]),
    ("uniform:bits=20,width=16", ["bits=20", "width=16"]),
])
def test_malformed_and_invalid_strings(text, words):
    assert_spec_error(text, words)


def bad_values(allowed):
    """Values just outside what a parameter accepts, as spec-string text."""
    if allowed.choices is not None:
        return ["bogus"]
    return [str(allowed.lo - 1), str(allowed.hi + 1), "1.5"]


def all_bad_inputs():
    for kind, cls in kinds().items():
        for name, _, allowed in cls.parameters():
            for raw in bad_values(allowed):
                yield kind, name, raw


@pytest.mark.parametrize("kind, name, raw", list(all_bad_inputs()))
def test_every_parameter_rejects_out_of_range_values(kind, name, raw):
    with pytest.raises(SpecError) as info:
        parse(f"{kind}:{name}={raw}")
    message = str(info.value)
    assert "\n" not in message
    assert f"{name}=" in message and raw in message and kind in message, message
