"""Record and replay a board exchange (hardware fixtures, as Glasgow's applet tests do): a test that
talks to an attached board records every transport call to a JSON-lines file; without a board the
same test replays the file and checks that the host sends exactly the recorded bytes.

File format: a first line ``{"fixture": 1, ...metadata}`` (the engine and link specs, the source the
exchange was recorded from), then one line per call, ``{"write": HEX}`` or ``{"read": HEX, "terminator":
N, "timeout": S, "spent": S}``.

Members
-------
RecordingTransport(inner, path, **metadata)   pass-through that writes the file atomically on close
ReplayTransport(path)                          plays it back; ``.metadata``; raises FixtureMismatch
FixtureMismatch                                the host did something the recording does not have
"""

from __future__ import annotations

import json

from ..atomic import write_text

__all__ = ["RecordingTransport", "ReplayTransport", "FixtureMismatch", "read_metadata"]


class FixtureMismatch(AssertionError):
    pass


def read_metadata(path) -> dict:
    with open(path) as f:
        return json.loads(f.readline())


class RecordingTransport:
    def __init__(self, inner, path, **metadata):
        self.inner, self.path = inner, path
        self.lines = [json.dumps({"fixture": 1, **metadata}, sort_keys=True)]

    def write(self, data: bytes) -> None:
        self.lines.append(json.dumps({"write": bytes(data).hex()}))
        self.inner.write(data)

    def read_until(self, terminator: int, timeout: float) -> tuple[bytes, float]:
        data, spent = self.inner.read_until(terminator, timeout)
        self.lines.append(json.dumps({"read": data.hex(), "terminator": terminator, "timeout": timeout,
                                      "spent": spent}))
        return data, spent

    def close(self) -> None:
        write_text(self.path, "\n".join(self.lines) + "\n")
        self.inner.close()


class ReplayTransport:
    def __init__(self, path):
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.metadata, self.calls, self.at = lines[0], lines[1:], 0

    def _next(self, kind: str) -> dict:
        if self.at >= len(self.calls):
            raise FixtureMismatch(f"fixture: the host made a {kind} call after the recording ended "
                                  f"({len(self.calls)} calls)")
        call = self.calls[self.at]
        if kind not in call:
            raise FixtureMismatch(f"fixture: call {self.at} is a {next(iter(call))} in the recording, "
                                  f"the host made a {kind}")
        self.at += 1
        return call

    def write(self, data: bytes) -> None:
        call = self._next("write")
        if bytes.fromhex(call["write"]) != bytes(data):
            raise FixtureMismatch(f"fixture: call {self.at - 1}: the host wrote {bytes(data).hex()}, "
                                  f"the recording has {call['write']}")

    def read_until(self, terminator: int, timeout: float) -> tuple[bytes, float]:
        call = self._next("read")
        return bytes.fromhex(call["read"]), float(call["spent"])

    @property
    def finished(self) -> bool:
        return self.at == len(self.calls)

    def close(self) -> None:
        pass
