"""Lowering a GEMM plan to an IRON program (mlir-aie Python API) and building it with ``aiecc.py``.

Targets the 2025 high-level API of the v1.x release wheels (docs/references.md#iron-api-2025): ObjectFifo
with ``split``/``forward``/``join`` at memtiles, Worker, Kernel, GlobalBuffer run-time parameters with a
WorkerRuntimeBarrier, Runtime fill/drain with TensorAccessPatterns in task groups, Program.
Everything the program contains is read from the :class:`~.plan.Plan`, nothing is re-derived. The
2026 API (callback ``Runtime``, compiler placement) goes behind the same :class:`Adapter` seam.

One xclbin serves all shapes of a design: the array configuration (fifos, links, workers) does not
depend on the shape; only the runtime sequence does, so each extra shape needs only its instruction
stream (``insts_MxKxN.bin``), as in the reference design (docs/references.md#npu-reference-design).
"""

from __future__ import annotations

import json
import os
import pathlib

from ..errors import ToolError
from .design import GemmDesign
from .plan import Plan, plan as make_plan

__all__ = ["IronMissing", "IronBuildError", "Adapter", "Iron2025", "adapter", "lower", "build"]

INSTALL = ("install the mlir-aie v1.x wheels from the project's GitHub releases (it is not on PyPI) "
           "and `source utils/env_setup.sh`")


class IronMissing(ToolError):
    """mlir-aie (the ``aie`` Python package) or its compiler driver is not available."""


class IronBuildError(ToolError):
    """aiecc.py or the kernel compiler failed."""


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
        for w in topo.workers:
            rtp = iron.GlobalBuffer(np.ndarray[(3,), np.dtype[np.int32]], name=f"rtp_{w.tile.col}_{w.tile.row}",
                                    use_write_rtp=True)
            rtps.append((rtp, p.rtp[w.tile]))
            workers.append(iron.Worker(core_fn, [made[w.a].cons(), made[w.b].cons(), made[w.c].prod(), rtp, zero,
                                                 matmul, barrier],
                                       placement=Tile(w.tile.col, w.tile.row), stack_size=0xD00))

        bufs = {name: self._ty((elems,), dtype) for name, (dtype, elems) in p.buffers.items()}
        rt = iron.Runtime()
        with rt.sequence(bufs["A"], bufs["B"], bufs["C"]) as (A, B, C):
            host = {"A": A, "B": B, "C": C}

            def set_rtps(*buffers):
                for buf, (_, values) in zip(buffers, rtps):
                    buf[1], buf[2] = values[1], values[2]

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
    """The adapter for the installed mlir-aie. The 2026 API has no ``Runtime.sequence``."""
    a = Iron2025()
    if not hasattr(a.iron.Runtime, "sequence"):
        raise IronMissing("npu: this mlir-aie has the 2026 IRON API (callback Runtime); only the 2025 v1.x "
                          "API is lowered so far -- install a v1.x wheel")
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


def build(design: GemmDesign, out: str | os.PathLike, *, compile: bool = True) -> dict:
    """Write ``aie_MxKxN.mlir`` per shape and ``design.json``; with ``compile`` and ``aiecc.py`` on PATH,
    also the kernel object, ``final.xclbin`` (from the first shape) and ``insts_MxKxN.bin`` per shape."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    api = adapter()
    spec = design.spec
    mlir = {}
    for shape in design.shapes:
        path = out / f"aie_{shape}.mlir"
        path.write_text(lower(make_plan(spec, shape), api))
        mlir[shape] = path
    info = {"spec": str(spec), "shapes": [str(s) for s in design.shapes], "mlir": [p.name for p in mlir.values()]}
    if compile:
        aiecc = _find("aiecc.py")
        peano = os.environ.get("PEANO_INSTALL_DIR")
        if aiecc is None or not peano:
            raise IronMissing(f"npu: {'aiecc.py' if aiecc is None else '$PEANO_INSTALL_DIR'} not found "
                              f"(MLIR written to {out}); {INSTALL}")
        target = "aie2" if spec.device == "npu1" else "aie2p"
        obj = f"mm_{spec.m}x{spec.k}x{spec.n}.o"
        defines = [f"-DDIM_M={spec.m}", f"-DDIM_K={spec.k}", f"-DDIM_N={spec.n}",
                   f"-D{spec.dtype_in}_{spec.dtype_out}_ONLY"] + (["-DB_COL_MAJ"] if spec.b_layout == "col" else [])
        _run([f"{peano}/bin/clang++", "-O2", "-std=c++20", f"--target={target}-none-unknown-elf", "-DNDEBUG",
              *defines, "-c", str(_kernel_source(spec)), "-o", obj], out, "kernel")
        flags = ["--alloc-scheme=basic-sequential", "--dynamic-objFifos", "--no-compile-host", "--no-xchesscc",
                 "--no-xbridge", "--peano", peano, "--aie-generate-npu-insts"]
        for i, (shape, path) in enumerate(mlir.items()):
            xclbin = ["--aie-generate-xclbin", "--xclbin-name=final.xclbin"] if i == 0 else []
            _run([aiecc, *flags, *xclbin, f"--npu-insts-name=insts_{shape}.bin", path.name], out, f"aiecc_{shape}")
        info.update(xclbin="final.xclbin", insts=[f"insts_{s}.bin" for s in design.shapes], kernel=obj)
    (out / "design.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
