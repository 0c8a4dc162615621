"""Comparing the responses of a simulated engine or board with the golden ones, command by command.

Members: :func:`first_differences` -> list of one-line descriptions (empty when equal).
"""

from __future__ import annotations

__all__ = ["first_differences"]


def _hex(data: bytes, at: int, span: int = 8) -> str:
    part = data[at:at + span].hex(" ")
    return (part or "(nothing)") + (" ..." if len(data) > at + span else "")


def first_differences(commands: list[bytes], expected: list[bytes], got: bytes, limit: int = 5) -> list[str]:
    """``expected[i]`` is the golden answer to ``commands[i]``; ``got`` is everything the simulation
    sent, in order. Each line names the command, the first differing byte, and both sides from there."""
    out, at = [], 0
    for i, (command, want) in enumerate(zip(commands, expected)):
        have = got[at:at + len(want)]
        if have != want:
            k = next((j for j, (a, b) in enumerate(zip(want, have)) if a != b), min(len(want), len(have)))
            out.append(f"command {i} (opcode 0x{command[0]:02x}, {len(command)} bytes): response byte {k} of "
                       f"{len(want)}: expected {_hex(want, k)}, got {_hex(have, k)}")
            if len(out) >= limit:
                break
        at += len(want)
    if not out and len(got) != at:
        out.append(f"after the last command: {len(got) - at} extra bytes: {_hex(got, at)}")
    return out
