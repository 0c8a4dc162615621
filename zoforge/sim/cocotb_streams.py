"""Play a :class:`~zoforge.sim.block_check.Stimulus` on a block's emitted Verilog under cocotb (Icarus
or Verilator): the same input payloads, side signals and preload as in Amaranth's simulator (the
bench is :mod:`zoforge.sim.cocotb_streams_bench`), the output words unpacked the same way.

Builds are shared with :mod:`zoforge.sim.cocotb_runner` (cached per spec; a rebuild only when the
Verilog or cocotb changes).

Members: :func:`run_cocotb_streams` -> (output fields, counter).
"""

from __future__ import annotations

import json
import logging
import pathlib
import tempfile

import numpy as np

from ..tools import ToolFailed, cache_dir
from .cocotb_runner import _TIMESCALE, _build, _check_simulator, _emit, _failure_line, _locked
from .cocotb_sessions import _tools_on_path
from .stream_bench import unpack_rows

__all__ = ["run_cocotb_streams"]

_BENCH = "zoforge.sim.cocotb_streams_bench"


def run_cocotb_streams(stim, simulator: str, *, valid_prob: float = 0.75, ready_prob: float = 0.75,
                       rng_seed: int = 0, stall_cycles: int = 100_000) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Like :func:`zoforge.sim.block_check.run_pysim` (the gaps are drawn differently, so the
    cycle-by-cycle timing differs; the words must not)."""
    _check_simulator(simulator)
    with _tools_on_path():
        return _run(stim, simulator, valid_prob, ready_prob, rng_seed, stall_cycles)


def _run(stim, simulator, valid_prob, ready_prob, rng_seed, stall_cycles):
    from cocotb_tools.runner import get_runner
    spec = stim.spec
    top, verilog, port_list, _ = _emit(str(spec), spec)
    width = {p["name"]: p["width"] for p in port_list}
    driven = {f"{name}__{part}" for name in [*stim.sources, *(stim.preload[:1] if stim.preload else [])]
              for part in ("valid", "payload")} | {f"{stim.sink}__ready"} | {s[0] for s in stim.side}
    inputs = {p["name"]: 1 if p["name"].endswith("__ready") else 0 for p in port_list
              if p["direction"] == "in" and p["name"] not in driven | {"clk", "rst"}}
    side = [[port, source, [int(v) & ((1 << width[port]) - 1) for v in values]] for port, source, values in stim.side]
    runner = get_runner(simulator)
    runner.log.setLevel(logging.WARNING)
    bdir, _ = _build(runner, simulator, str(spec), top, verilog, cache_dir("cocotb"))
    with tempfile.TemporaryDirectory(prefix="zoforge-streams-") as tmp:
        run = pathlib.Path(tmp)
        params = {"sources": stim.sources, "side": side, "preload": list(stim.preload) if stim.preload else None,
                  "sink": stim.sink, "count": stim.words, "counter": stim.counter[0] if stim.counter else None,
                  "inputs": inputs, "valid_prob": valid_prob, "ready_prob": ready_prob, "rng_seed": rng_seed,
                  "stall_cycles": stall_cycles, "out": str(run / "out.json")}
        (run / "params.json").write_text(json.dumps(params))
        log = run / "sim.log"
        with _locked(bdir / ".lock", exclusive=False):
            try:
                runner.test(test_module=_BENCH, testcase="streams", hdl_toplevel=top, hdl_toplevel_lang="verilog",
                            build_dir=bdir, test_dir=run,
                            extra_env={"ZOFORGE_COCOTB_PARAMS": str(run / "params.json")},
                            results_xml=str(run / "results.xml"), log_file=log, timescale=_TIMESCALE)
            except SystemExit:
                pass                            # under pytest the runner exits on failure; the check below says why
        if not (run / "out.json").exists():
            kept = bdir / "last-failed-run.log"
            kept.write_text(log.read_text(errors="replace") if log.exists() else "")
            raise ToolFailed(f"{simulator} run of {spec} failed: {_failure_line(log)} (log: {kept})", kept)
        out = json.loads((run / "out.json").read_text())
    arrays = unpack_rows(out["received"], *[f[1:] for f in stim.fields])
    final = {stim.counter[0]: out["counter"]} if stim.counter and not out["stalled"] else {}
    return dict(zip([f[0] for f in stim.fields], arrays)), final
