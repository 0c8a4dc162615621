"""Lowering a GEMM plan to an IRON program (mlir-aie Python API) and building it with ``aiecc.py``.

Targets the 2025 high-level API of the v1.x release wheels (docs/references.md#iron-api-2025): ObjectFifo
with ``split``/``forward``/``join`` at memtiles, Worker, Kernel, GlobalBuffer run-time parameters with a
WorkerRuntimeBarrier, Runtime fill/drain with TensorAccessPatterns in task groups, Program.
Everything the program contains is read from the :class:`~.plan.Plan`, nothing is re-derived. The
2026 API (callback ``Runtime``, compiler placement) goes behind the same :class:`Adapter` seam.

One xclbin serves all shapes of a design: the array configuration (fifos, links, workers) does not
depend on the shape; only the runtime sequence does, so each extra shape needs only its instruction
stream (``insts_MxKxN.bin``), as in the reference design (docs/references.md#npu-reference-design). That holds only if every shape's
lowering has the same device section (channels, locks, buffer addresses); :func:`build` compares them
and refuses when they differ, since some IRON versions resolve object fifos in an unordered way.
A shape that needs several runs (:func:`~.plan.plans`) gets one instruction stream per run.
"""

from __future__ import annotations

import hashlib
import math
import json
import os
import pathlib
import re

from ..errors import ToolError
from . import perturb
from .design import GemmDesign
from .plan import Plan, plans as make_plans

__all__ = ["IronMissing", "IronBuildError", "Adapter", "Iron2025", "adapter", "lower", "build", "PERTURB_SOURCE",
           "perturb_compile_command"]

INSTALL = ("install the mlir-aie v1.x wheels from the project's GitHub releases (it is not on PyPI) "
           "and `source utils/env_setup.sh`")


PERTURB_OBJ = "pezo_perturb.o"
PERTURB_SOURCE = pathlib.Path(__file__).parent / "kernels" / "pezo_perturb.cc"


class IronMissing(ToolError):
    """mlir-aie (the ``aie`` Python package) or its compiler driver is not available."""


class IronBuildError(ToolError):
    """aiecc.py or the kernel compiler failed, or the shapes' lowerings do not share one array."""


def _version() -> str:
    """The installed mlir-aie's version, for error messages."""
    try:
        from importlib.metadata import PackageNotFoundError, version
        for dist in ("mlir_aie", "mlir-aie"):
            try:
                return version(dist)
            except PackageNotFoundError:
                continue
    except ImportError:          # pragma: no cover - stdlib
        pass
    import aie
    return getattr(aie, "__version__", "of unknown version")


def _import_iron():
    try:
        import numpy as np
        from aie import iron
        from aie.iron import placers, device, controlflow
        from aie.helpers import taplib
        from aie.iron import dtype as iron_dtype
    except ImportError as e:
        raise IronMissing(f"npu: mlir-aie is not importable ({e.name or e}); {INSTALL}") from None
    return np, iron, placers, device, controlflow, taplib, iron_dtype


class Adapter:
    """What the lowering needs from an IRON API version."""

    def lower(self, p: Plan) -> str:          # pragma: no cover - interface
        raise NotImplementedError


class Iron2025(Adapter):
    """The v1.0/v1.1 wheels' API (snapshot @366fd0e05)."""

    def __init__(self):
        self.np, self.iron, self.placers, self.device, self.controlflow, self.taplib, self.dt = _import_iron()
        # run-time-parameter buffers: iron.Buffer since late November 2025, iron.GlobalBuffer before
        # (same signature); the buffer's tile comes from the Worker that takes it.
        self.Buffer = getattr(self.iron, "Buffer", None) or getattr(self.iron, "GlobalBuffer", None)

    def _device(self, spec):
        dev = self.device
        if spec.device == "npu1":
            return dev.NPU1() if spec.cols == 4 else getattr(dev, f"NPU1Col{spec.cols}")()
        return dev.NPU2() if spec.cols == 8 else getattr(dev, f"NPU2Col{spec.cols}")()

    def _ty(self, shape, dtype):
        np = self.np
        return np.ndarray[tuple(shape), np.dtype[self.dt.str_to_dtype(dtype)]]

    def lower(self, p: Plan) -> str:
        np, iron = self.np, self.iron
        Tile = self.device.Tile
        topo, spec = p.topology, p.spec
        range_ = self.controlflow.range_
        f = topo.fifos

        def ty(name):
            return self._ty(f[name].shape, f[name].dtype)

        obj = f"mm_{spec.m}x{spec.k}x{spec.n}.o"
        zero = iron.Kernel(f"zero_{spec.dtype_out}", obj, [ty(topo.workers[0].c)])
        matmul = iron.Kernel(f"matmul_{spec.dtype_in}_{spec.dtype_out}", obj,
                             [ty(topo.workers[0].a), ty(topo.workers[0].b), ty(topo.workers[0].c)])

        # Fifos from the shim, then the memtile links that create the fifos towards/from the cores.
        made = {}
        for link in topo.links:
            tile = Tile(link.tile.col, link.tile.row)
            if link.kind == "join":
                out = f[link.outputs[0]]
                made[out.name] = iron.ObjectFifo(ty(out.name), depth=out.depth, name=out.name,
                                                 dims_to_stream=out.dims_to_stream.dims if out.dims_to_stream else None)
                branches = made[out.name].prod().join(
                    list(link.offsets), placement=tile, depths=[f[n].depth for n in link.inputs],
                    obj_types=[ty(n) for n in link.inputs], names=list(link.inputs))
                made.update(zip(link.inputs, branches))
                continue
            src = f[link.inputs[0]]
            made[src.name] = iron.ObjectFifo(ty(src.name), depth=src.depth, name=src.name)
            dims = [f[n].dims_to_stream.dims if f[n].dims_to_stream else None for n in link.outputs]
            if link.kind == "forward":
                branches = [made[src.name].cons().forward(placement=tile, obj_type=ty(link.outputs[0]),
                                                          name=link.outputs[0], dims_to_stream=dims[0])]
            else:
                branches = made[src.name].cons().split(
                    list(link.offsets), placement=tile, obj_types=[ty(n) for n in link.outputs],
                    names=list(link.outputs), dims_to_stream=dims)
            made.update(zip(link.outputs, branches))

        k_unroll = spec.depth
        barrier = iron.WorkerRuntimeBarrier()
        pezo = spec.pezo
        rtp_len = 3 + perturb.rtp_words(pezo)
        rtp_ty = np.ndarray[(rtp_len,), np.dtype[np.int32]]
        if pezo is not None:       # the fused PeZO perturbation of B (zoforge.npu.perturb, kernels/pezo_perturb.cc)
            pool_ty = np.ndarray[(pezo.pool,), np.dtype[np.int16]]
            state_ty = np.ndarray[(2,), np.dtype[np.int32]]
            fill = iron.Kernel("pezo_pool_fill", PERTURB_OBJ, [pool_ty, state_ty, rtp_ty])
            perturb_b = iron.Kernel("pezo_perturb_b", PERTURB_OBJ, [ty(topo.workers[0].b), pool_ty, state_ty, rtp_ty])

        def core_fn_perturbed(in_a, in_b, out_c, rtp, zero_k, matmul_k, bar, pool, state, fill_k, perturb_k):
            bar.wait_for_value(1)
            fill_k(pool, state, rtp)                  # the pool from the lane seeds; position = first tile
            k_iters, tiles = rtp[1], rtp[2]
            for _ in range_(tiles):
                c = out_c.acquire(1)
                zero_k(c)
                for _ in range_(k_iters):
                    for _ in range(k_unroll):
                        a, b = in_a.acquire(1), in_b.acquire(1)
                        perturb_k(b, pool, state, rtp)     # B + a z in L1, then the unchanged matmul
                        matmul_k(a, b, c)
                        in_a.release(1)
                        in_b.release(1)
                out_c.release(1)

        def core_fn(in_a, in_b, out_c, rtp, zero_k, matmul_k, bar):
            bar.wait_for_value(1)
            k_iters, tiles = rtp[1], rtp[2]
            for _ in range_(tiles):
                c = out_c.acquire(1)
                zero_k(c)
                for _ in range_(k_iters):
                    for _ in range(k_unroll):         # unrolled: static ping/pong buffer references
                        a, b = in_a.acquire(1), in_b.acquire(1)
                        matmul_k(a, b, c)
                        in_a.release(1)
                        in_b.release(1)
                out_c.release(1)

        workers, rtps = [], []
        first_tile = sum(q.rtp[w.tile][2] for q in make_plans(spec, p.shape)[:p.part] for w in topo.workers[:1])
        for w in topo.workers:
            rtp = self.Buffer(rtp_ty, name=f"rtp_{w.tile.col}_{w.tile.row}", use_write_rtp=True)
            extra = [] if pezo is None else perturb.rtp_values(spec, None, p.shape, w.tile.col, first_tile)
            rtps.append((rtp, (*p.rtp[w.tile], *extra)))
            args = [made[w.a].cons(), made[w.b].cons(), made[w.c].prod(), rtp, zero, matmul, barrier]
            body = core_fn
            if pezo is not None:
                at = f"{w.tile.col}_{w.tile.row}"
                args += [self.Buffer(pool_ty, name=f"pool_{at}"), self.Buffer(state_ty, name=f"pstate_{at}"),
                         fill, perturb_b]
                body = core_fn_perturbed
            workers.append(iron.Worker(body, args, placement=Tile(w.tile.col, w.tile.row), stack_size=0xD00))

        bufs = {name: self._ty((elems,), dtype) for name, (dtype, elems) in p.buffers.items()}
        rt = iron.Runtime()
        with rt.sequence(bufs["A"], bufs["B"], bufs["C"]) as (A, B, C):
            host = {"A": A, "B": B, "C": C}

            def set_rtps(*buffers):
                # loop counts, then (perturb=) the perturbation's words; the per-call ones (seeds, start,
                # q, a) are written as 0 and set by the host before each call
                for buf, (_, values) in zip(buffers, rtps):
                    for i in range(1, len(values)):
                        buf[i] = values[i]

            rt.inline_ops(set_rtps, [b for b, _ in rtps])
            rt.set_barrier(barrier, 1)
            rt.start(*workers)
            previous = None
            for g in range(p.groups):
                tg = rt.task_group()
                for t in (t for t in p.transfers if t.group == g):
                    tap = self.taplib.TensorAccessPattern((p.buffers[t.buffer][1],), t.tap.offset,
                                                          list(t.tap.sizes), list(t.tap.strides))
                    handle = made[t.fifo].prod() if t.op == "fill" else made[t.fifo].cons()
                    call = rt.fill if t.op == "fill" else rt.drain
                    call(handle, host[t.buffer], tap=tap, task_group=tg, wait=t.wait,
                         placement=Tile(t.shim.col, t.shim.row))
                if previous is not None:
                    rt.finish_task_group(previous)     # group g-1 ends after group g was issued
                previous = tg
            rt.finish_task_group(previous)
        module = iron.Program(self._device(spec), rt).resolve_program(self.placers.SequentialPlacer())
        return str(module)


def adapter() -> Adapter:
    """The adapter for the installed mlir-aie, after checking that it has every feature the lowering
    uses; anything missing is one line naming the mlir-aie version."""
    a = Iron2025()
    iron = a.iron
    missing = []
    if not callable(getattr(iron.Runtime, "sequence", None)):
        missing.append("Runtime.sequence() (this release has the callback form of Runtime)")
    if a.Buffer is None:
        missing.append("iron.Buffer or iron.GlobalBuffer")
    for name in ("WorkerRuntimeBarrier", "ObjectFifo", "Worker", "Kernel", "Program"):
        if not hasattr(iron, name):
            missing.append(f"iron.{name}")
    if not hasattr(a.controlflow, "range_"):
        missing.append("iron.controlflow.range_")
    if missing:
        raise IronMissing(f"npu: mlir-aie {_version()} lacks {', '.join(missing)}, which the lowering uses; "
                          f"it supports the v1.x API with Runtime.sequence() -- {INSTALL}")
    return a
def lower(p: Plan, api: Adapter | None = None) -> str:
    """MLIR text of the IRON program for one plan."""
    return (api or adapter()).lower(p)


def _find(tool: str) -> str | None:
    from ..tools import find_tool
    return find_tool(tool)


def _kernel_source(spec) -> pathlib.Path:
    root = os.environ.get("MLIR_AIE_DIR") or os.environ.get("MLIR_AIE_INSTALL_DIR")
    sub = "aie2" if spec.device == "npu1" else "aie2p"
    for base in filter(None, [root]):
        for cand in (pathlib.Path(base) / "aie_kernels" / sub / "mm.cc",
                     pathlib.Path(base) / ".." / "aie_kernels" / sub / "mm.cc"):
            if cand.is_file():
                return cand.resolve()
    raise IronMissing(f"npu: aie_kernels/{sub}/mm.cc not found under $MLIR_AIE_DIR; {INSTALL}")


def _run(cmd: list[str], cwd: pathlib.Path, what: str) -> None:
    from ..tools import ToolFailed, run_logged
    try:
        run_logged(cmd, cwd=cwd, log=cwd / f"{what}.log", what=what)
    except ToolFailed as e:
        raise IronBuildError(str(e)) from None


_SEQUENCE = re.compile(r"^\s*aiex\.runtime_sequence\b")


def device_section(mlir: str) -> str:
    """The MLIR text without its runtime sequence(s): what goes into the xclbin (tiles, fifos, locks,
    buffers, cores). Brace-matched from each ``aiex.runtime_sequence`` line."""
    out, depth, skipping = [], 0, False
    for line in mlir.splitlines():
        if not skipping and _SEQUENCE.match(line):
            skipping, depth, opened = True, 0, False
        if not skipping:
            out.append(line)
            continue
        depth += line.count("{") - line.count("}")
        opened = opened or "{" in line
        if opened and depth <= 0:
            skipping = False
    return "\n".join(out)


def _runs(shape, count: int) -> list[str]:
    """Artefact stems of a shape's runs: ``MxKxN`` or ``MxKxN_run1of3``..."""
    return [str(shape)] if count == 1 else [f"{shape}_run{i + 1}of{count}" for i in range(count)]


def build(design: GemmDesign, out: str | os.PathLike, *, compile: bool = True) -> dict:
    """Write ``aie_<run>.mlir`` per shape (per run when a shape needs several) and ``design.json``; with
    ``compile`` and ``aiecc.py`` on PATH, also the kernel object, ``final.xclbin`` (from the first
    lowering) and ``insts_<run>.bin`` per run. Refuses when the lowerings' device sections differ:
    instruction streams built against another array configuration would use other channels, locks or
    addresses than the one xclbin."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    api = adapter()
    spec = design.spec
    mlir: dict[str, pathlib.Path] = {}
    runs: dict[str, list[str]] = {}
    sections: dict[str, list[str]] = {}
    for shape in design.shapes:
        parts = make_plans(spec, shape)
        runs[str(shape)] = _runs(shape, len(parts))
        for stem, part in zip(runs[str(shape)], parts):
            text = lower(part, api)
            path = out / f"aie_{stem}.mlir"
            path.write_text(text)
            mlir[stem] = path
            digest = hashlib.sha256(device_section(text).encode()).hexdigest()[:16]
            sections.setdefault(digest, []).append(stem)
    info = {"spec": str(spec), "shapes": [str(s) for s in design.shapes], "runs": runs,
            "mlir": [p.name for p in mlir.values()]}
    if len(sections) > 1:
        groups = "; ".join(f"{', '.join(stems)} -> {digest}" for digest, stems in sections.items())
        raise IronBuildError(f"npu: the lowerings do not share one array configuration (device sections differ: "
                             f"{groups}); one xclbin cannot serve them -- build the shapes separately")
    if compile:
        aiecc = _find("aiecc.py")
        peano = os.environ.get("PEANO_INSTALL_DIR")
        if aiecc is None or not peano:
            raise IronMissing(f"npu: {'aiecc.py' if aiecc is None else '$PEANO_INSTALL_DIR'} not found "
                              f"(MLIR written to {out}); {INSTALL}")
        obj = f"mm_{spec.m}x{spec.k}x{spec.n}.o"
        source = _kernel_source(spec)
        _run(kernel_compile_command(spec, peano, source, obj, _include_dir(source)), out, "kernel")
        if spec.pezo is not None:
            _run(perturb_compile_command(spec, peano, PERTURB_SOURCE, PERTURB_OBJ, _include_dir(source)), out,
                 "kernel_perturb")
        flags = ["--alloc-scheme=basic-sequential", "--dynamic-objFifos", "--no-compile-host", "--no-xchesscc",
                 "--no-xbridge", "--peano", peano, "--aie-generate-npu-insts"]
        for i, (stem, path) in enumerate(mlir.items()):
            xclbin = ["--aie-generate-xclbin", "--xclbin-name=final.xclbin"] if i == 0 else []
            _run([aiecc, *flags, *xclbin, f"--npu-insts-name=insts_{stem}.bin", path.name], out, f"aiecc_{stem}")
        info.update(xclbin="final.xclbin", insts=[f"insts_{stem}.bin" for stem in mlir], kernel=obj)
        if spec.pezo is not None:
            info["perturb_kernel"] = PERTURB_OBJ
    (out / "design.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _include_dir(kernel: pathlib.Path) -> pathlib.Path:
    """``<mlir-aie>/include`` (aie_api), next to the ``aie_kernels`` folder the kernel came from."""
    return kernel.parent.parent.parent / "include"


def kernel_compile_command(spec, peano: str, source, obj: str, include) -> list[str]:
    """The Peano clang++ line for the matmul kernel, with the flags the mlir-aie examples' Makefiles
    pass: the aie_api headers on the include path and VECTORIZED_ONLY (only the vectorised kernels)."""
    target = "aie2" if spec.device == "npu1" else "aie2p"
    defines = [f"-DDIM_M={spec.m}", f"-DDIM_K={spec.k}", f"-DDIM_N={spec.n}",
               f"-D{spec.dtype_in}_{spec.dtype_out}_ONLY", "-DVECTORIZED_ONLY"]
    defines += ["-DB_COL_MAJ"] if spec.b_layout == "col" else []
    return [f"{peano}/bin/clang++", "-O2", "-std=c++20", f"--target={target}-none-unknown-elf", "-DNDEBUG",
            f"-I{include}", *defines, "-c", str(source), "-o", obj]


def perturb_compile_command(spec, peano: str, source, obj: str, include) -> list[str]:
    """The Peano clang++ line for kernels/pezo_perturb.cc: the matmul kernel's flags plus the B object's
    and the PeZO pool's compile-time values."""
    pezo, lfsr = spec.pezo, spec.pezo.uniform.lfsr
    r, s, t = spec.mac_dims
    lsb_exp = round(-math.log2(pezo.out_format.lsb))
    target = "aie2" if spec.device == "npu1" else "aie2p"
    defines = {"DIM_K": spec.k, "DIM_N": spec.n, "MAC_S": s, "MAC_T": t, "POOL": pezo.pool, "LANES": pezo.lanes,
               "BITS": pezo.bits, "SFRAC": pezo.sfrac, "LSB_EXP": lsb_exp, "LFSR_WIDTH": lfsr.width,
               "LFSR_STEP": lfsr.step, "LFSR_TAPS": hex(lfsr.poly >> 1) + "u"}
    return [f"{peano}/bin/clang++", "-O2", "-std=c++20", f"--target={target}-none-unknown-elf", "-DNDEBUG",
            f"-I{include}", *(f"-D{k}={v}" for k, v in defines.items()), "-c", str(source), "-o", obj]
