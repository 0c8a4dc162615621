"""Amaranth components built from the specs in :mod:`zoforge.golden`."""
import os

# Emitted Verilog must not depend on which Yosys happens to be on PATH.
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
