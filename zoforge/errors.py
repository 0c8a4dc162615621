"""Errors the CLI turns into one clear line, and how an error line shows a user's input."""

import difflib

__all__ = ["ToolError", "UsageError", "OutputError", "shown", "did_you_mean", "MAX_SHOWN"]

#: Characters of a user's input an error line echoes; the rest is elided with its length.
MAX_SHOWN = 200


class ToolError(RuntimeError):
    """An external tool (simulator, Yosys, nextpnr ...) is missing or failed; the message says which
    and what to do about it."""


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit status 2."""


class OutputError(UsageError):
    """An output path cannot be written safely (a directory, a device node, a symlink, a file where a
    folder is needed); nothing was written."""


def shown(value, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to about ``limit`` characters, so an error line stays one short line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit - 40]}...{text[-20:]} ({len(str(value))} characters)"


def did_you_mean(word, choices) -> str:
    """``" (did you mean 'pezo'?)"`` when ``word`` is a near miss of one of ``choices``, else ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
