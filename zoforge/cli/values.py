"""Converters of option values: a bad value gives one line naming the option, its value and what is
allowed (argparse prints it; the CLI exits 2)."""

from __future__ import annotations

import argparse
import math

from ..errors import shown

__all__ = ["integer", "number", "path", "text", "identifier", "show_default"]


def integer(option: str, lo: int | None, hi: int | None = None):
    """An integer option; ``lo=None``: any integer (its range is checked where the value is used)."""
    def convert(text: str) -> int:
        allowed = "an integer" if lo is None else \
            f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
        try:
            value = int(text, 0)
        except ValueError:                   # also more than 4300 digits
            raise argparse.ArgumentTypeError(f"{option}={shown(text)} is not an integer; {option} must be {allowed}")
        if lo is not None and (value < lo or (hi is not None and value > hi)):
            echo = value if len(text) <= 40 else shown(text)
            raise argparse.ArgumentTypeError(f"{option}={echo} is out of range; {option} must be {allowed}")
        return value
    return convert


def number(option: str, lo: float, hi: float | None = None, *, lo_open: bool = True, hi_open: bool = False):
    def convert(text: str) -> float:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        allowed = f"a number in {left}{lo}, {hi}{right}" if hi is not None else \
            f"a number {'>' if lo_open else '>='} {lo}"
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and \
            (hi is None or (value < hi if hi_open else value <= hi))
        if not ok:
            raise argparse.ArgumentTypeError(f"{option}={shown(text)} is not allowed; {option} must be {allowed}")
        return value
    return convert


def text(option: str):
    """Text that must be valid Unicode (an undecodable byte in argv arrives as a lone surrogate)."""
    def convert(value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise argparse.ArgumentTypeError(f"{option}={shown(value)} is not valid UTF-8 text (byte "
                                             f"{ord(value[e.start]) & 0xff:#04x} at position {e.start})") from None
        return value
    return convert


def path(option: str):
    """A file or folder name: not empty (an empty name would silently mean the current folder)."""
    def convert(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"{option}={shown(value)} is empty; give a file or folder name")
        if "\0" in value:
            raise argparse.ArgumentTypeError(f"{option}={shown(value)} contains a NUL character")
        return text(option)(value)
    return convert


def identifier(option: str):
    """A name that becomes a file name and a Verilog module name: letters, digits and '_', not
    starting with a digit (no separators, no '..', no spaces)."""
    from ..gen.emit import check_name
    def convert(value: str) -> str:
        try:
            return check_name(value, option)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def show_default(value) -> str:
    """A default as a help line shows it, in the form the option's own converter reads back."""
    if isinstance(value, (list, tuple)):
        return ",".join(show_default(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
