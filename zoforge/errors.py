"""Errors the CLI turns into one clear line."""

__all__ = ["ToolError"]


class ToolError(RuntimeError):
    """An external tool (simulator, Yosys, nextpnr ...) is missing or failed; the message says which
    and what to do about it."""
