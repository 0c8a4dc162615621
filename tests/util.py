"""Shared checks: a block's gateware equals its golden model on whole streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoforge.golden.spec import SpecError, parse
from zoforge.sim.compare import describe, mismatches
from zoforge.sim.pysim import collect

MIN_OUTPUTS = 10_000   # numbers (cycles x lanes) compared per stream


def words_for(spec, numbers: int = MIN_OUTPUTS) -> int:
    return max(64, math.ceil(numbers / spec.outputs_per_cycle))


def assert_equal_streams(expected: np.ndarray, got: np.ndarray, what: str = "") -> None:
    found = mismatches(expected, got)
    assert not found, f"{what} differs from the golden model:\n{describe(found)}"


def check_pysim(spec, *, numbers: int = MIN_OUTPUTS, backpressure: float = 0.3, reseed: int | None = 12345):
    """Simulate ``spec.create()`` with random back-pressure and a mid-stream reseed; compare every
    transferred word with the golden model."""
    count = words_for(spec, numbers)
    if reseed is None:
        got = collect(spec.create(), count, backpressure=backpressure)
        assert_equal_streams(spec.golden(count), got, str(spec))
        return
    reseed = 1 + reseed % ((1 << spec.width) - 1)     # any seed that fits the spec's LFSR width
    split = count // 2
    got = collect(spec.create(), count, backpressure=backpressure,
                  reseed_at={split: spec.seed_vector(reseed)})
    assert_equal_streams(spec.golden(split), got[:split], f"{spec} before reseed")
    assert_equal_streams(spec.golden(count - split, seed=reseed), got[split:], f"{spec} after reseed")


def assert_spec_error(text: str, words) -> None:
    """Parsing ``text`` fails with a one-line SpecError containing every one of ``words``."""
    with pytest.raises(SpecError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def single_commands(spec, link, entries) -> list[bytes]:
    """The commands of a random engine session one by one, those that fit one frame of ``link``."""
    from zoforge.golden import engine_protocol as P
    from zoforge.sim.engine_sim import split_commands
    commands = [c for entry in entries for c in split_commands(spec, entry)]
    return [c for c in commands if len(c) <= link.max_command and P.response_length(spec, c, 0) <= link.max_response]


def assert_link_equals_golden(frames, spec, commands):
    """Every answer through the connected link driver ``frames`` equals the golden engine's (``connect``
    executes nothing); returns the golden engine."""
    from zoforge.golden.engine_model import EngineModel
    golden = EngineModel(spec)
    for command in commands:
        assert frames.transact(command) == golden.transact(command), command.hex()
    return golden
