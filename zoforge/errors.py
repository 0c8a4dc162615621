"""Errors the CLI turns into one clear line."""

__all__ = ["ToolError", "UsageError"]


class ToolError(RuntimeError):
    """An external tool (simulator, Yosys, nextpnr ...) is missing or failed; the message says which
    and what to do about it."""


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit status 2."""
