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


class HostileTransport:
    """Writes frames of its own between the host's: a copy of one of the host's earlier frames (a
    replay of an older frame) or a SEED cut after 3 of its 8 argument bytes, with a random seq or the
    host's next one (a body that ends inside a command; when its seq is the board's next one it runs
    and is abandoned, and the host's frame gets a notice). ``injected`` counts both.

    The host's traffic goes through ``inner`` (which may damage it); the injected frames go straight
    to ``board``, and everything the board has sent by then is read and thrown away (within ``drain``
    seconds), so that an answer to an injected frame never reaches the host (with the host's seq it
    would pass for its own). Cut frames come only before a new frame of the host, not before a
    resend: a frame that runs between the host's command and its resend would make the host's retry
    look refused (a notice means "not the last frame", which is "never ran" only while the host is
    the one writer)."""

    def __init__(self, inner, board, rng, p: float = 0.2, drain: float = 0.0):
        self.inner, self.board, self.rng, self.p, self.drain = inner, board, rng, p, drain
        self.sent: list[bytes] = []
        self.injected = {"replay": 0, "cut": 0}

    def write(self, data: bytes) -> None:
        from zoforge.golden.engine_protocol import Op
        from zoforge.golden.link import frame
        if self.sent and self.rng.random() < self.p:
            if self.rng.random() < 0.5 or data == self.sent[-1]:
                self.injected["replay"] += 1
                self.board.write(self.sent[int(self.rng.integers(len(self.sent)))])
            else:
                self.injected["cut"] += 1
                seq = data[1] if self.rng.random() < 0.75 else int(self.rng.integers(256))   # mostly the host's seq
                self.board.write(frame(seq, bytes([Op.SEED, 1, 2, 3])))
            while self.board.read_until(0xC0, self.drain)[0]:
                pass
        self.sent.append(bytes(data))
        self.inner.write(data)

    def read_until(self, terminator: int, timeout: float):
        return self.inner.read_until(terminator, timeout)

    def close(self) -> None:
        self.inner.close()
