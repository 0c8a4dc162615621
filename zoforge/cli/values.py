"""Converters of option values: a bad value gives one line naming the option, its value and what is
allowed (argparse prints it; the CLI exits 2)."""

from __future__ import annotations

import argparse
import math

__all__ = ["integer", "number"]


def integer(option: str, lo: int | None, hi: int | None = None):
    """An integer option; ``lo=None``: any integer (its range is checked where the value is used)."""
    def convert(text: str) -> int:
        allowed = "an integer" if lo is None else \
            f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option}={text!r} is not an integer; {option} must be {allowed}")
        if lo is not None and (value < lo or (hi is not None and value > hi)):
            raise argparse.ArgumentTypeError(f"{option}={value} is out of range; {option} must be {allowed}")
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
            raise argparse.ArgumentTypeError(f"{option}={text!r} is not allowed; {option} must be {allowed}")
        return value
    return convert
