"""Amaranth's Verilog back end with its bundled Yosys, whatever Yosys is on PATH.

Emitted Verilog must not depend on the machine, so every conversion selects Amaranth's builtin Yosys
for the duration of the call (Amaranth reads ``AMARANTH_USE_YOSYS`` when it converts) and puts the
process environment back afterwards: importing zoforge never changes the environment.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["builtin_yosys", "convert_verilog"]


@contextlib.contextmanager
def builtin_yosys():
    """Select Amaranth's bundled Yosys inside the ``with`` block; restore the previous setting after."""
    previous = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AMARANTH_USE_YOSYS", None)
        else:
            os.environ["AMARANTH_USE_YOSYS"] = previous


def convert_verilog(elaboratable, **kwargs) -> str:
    """``amaranth.back.verilog.convert`` with the bundled Yosys."""
    from amaranth.back import verilog
    with builtin_yosys():
        return verilog.convert(elaboratable, **kwargs)
