"""Matmul backends on the NPU: ``npu-emu`` (the dataflow emulator) and ``npu`` (a real NPU via pyxrt).

Both serve the shapes of one GEMM design and hand every other shape to the CPU, reporting which calls
were offloaded (``MatmulStats.offloaded_flops``). A product whose shape does not divide into the design's
blocks runs transposed (C^T = B^T @ A^T) or zero-padded (:func:`~zoforge.npu.design.device_shape`), so
every GPT-2 matmul, the LM head's included, reaches the array.

The host side of a call is :class:`~zoforge.host.npu_buffers.Operands`, the same for both backends:
weights stay resident in bf16 in the tile's layout and are converted once per optimizer update, not per
call; activations are converted fp32 -> bf16 (RNE) straight into their buffer; C (fp32) is copied out of
its buffer and, for the backward pass's ``+=``, added on the host. Unlike the reference host glue, which
converts both operands on every call (docs/references.md#npu-reference-host,
docs/references.md#xrt-host-flow). ``host_work`` counts it all. Stacked (attention) products stay on the
CPU, as in llm.c where they are loops, not matmuls.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ToolError
from ..npu.design import GemmDesign, GemmSpec, Shape, device_shape, parse_shapes, perturbed_shape
from .backend import MatmulBackend
from .npu_buffers import EmuMemory, Operands, XrtMemory

__all__ = ["NpuEmuBackend", "NpuXrtBackend", "XrtMissing"]


class XrtMissing(ToolError):
    """pyxrt, the NPU driver or the device is not available."""


def _spec(text) -> GemmSpec:
    from ..golden.spec import parse
    spec = text if isinstance(text, GemmSpec) else parse(text, GemmSpec)
    if spec.is_integer:
        from ..golden.spec import SpecError
        raise SpecError(f"matmul: {spec} takes integer inputs; the fp32 host needs a bf16 design (in=bf16)")
    return spec


def _shapes(value) -> tuple[Shape, ...] | None:
    if value is None or value == "auto":
        return None
    return parse_shapes(value) if isinstance(value, str) else tuple(Shape(*s) for s in value)


def _store(c: np.ndarray, out: np.ndarray | None, accumulate: bool) -> np.ndarray:
    if accumulate:
        out += c
        return out
    if out is None:
        return c.copy()             # c may be a view of a device buffer that the next call reuses
    out[...] = c
    return out


@dataclass
class _NpuBase(MatmulBackend):
    spec: str | GemmSpec = "npu1-gpt2"
    #: shapes served: None/"auto" = every shape the design can run, else "gpt2[:BT]", "MxKxN,..." or tuples
    shapes: object = None
    #: set by a ZO optimizer for one forward (:class:`~zoforge.host.optim.zo_tile.TileZOSGD`): called with
    #: (offset of W in the weight vector, rows N, columns K) of a weight operand B = W^T, it returns the
    #: :class:`~zoforge.npu.perturb.PerturbCall` the tiles apply to W, or None for an unperturbed weight
    tile_perturbation: object = field(default=None, repr=False)
    _served: dict = field(default_factory=dict, repr=False)
    _perturbed_runs: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.spec = _spec(self.spec)
        fixed = _shapes(self.shapes)
        self.design = GemmDesign(self.spec, fixed) if fixed is not None else None

    def serves(self, shape) -> bool:
        """Whether a product of ``shape`` runs on the array (possibly transposed or padded)."""
        return self._route(shape) is not None

    def _route(self, shape) -> tuple[Shape, bool] | None:
        shape = Shape(*shape)
        if shape not in self._served:
            run, transposed = device_shape(self.spec, shape)
            if self.design is not None:
                ok = self.design.serves(run)
            else:
                from ..npu.validate import shape_violations
                ok = not shape_violations(self.spec, run)
            self._served[shape] = (run, transposed) if ok else None
        return self._served[shape]

    def _perturbed_route(self, shape: Shape) -> Shape:
        """The run of a product whose weight the tiles perturb (:func:`~zoforge.npu.design.perturbed_shape`),
        checked once."""
        if shape not in self._perturbed_runs:
            from ..npu.validate import shape_violations
            run = perturbed_shape(self.spec, shape)
            problems = shape_violations(self.spec, run)
            if problems or (self.design is not None and not self.design.serves(run)):
                raise ToolError(f"matmul {self.name}: the weight of the {shape} product is to be perturbed in the "
                                f"tile, but {self.spec} cannot run it as {run}: "
                                + (str(problems[0]) if problems else "not among the design's shapes"))
            self._perturbed_runs[shape] = run
        return self._perturbed_runs[shape]

    def _tile_call(self, b: np.ndarray):
        """The in-tile perturbation of the B operand ``b`` (= W^T), or None."""
        from .npu_buffers import weight_key
        if self.tile_perturbation is None or not b.T.flags.c_contiguous:
            return None
        key = weight_key(self.weights, b.T)
        if key is None:
            return None
        return self.tile_perturbation(key[0] // b.itemsize, b.shape[1], b.shape[0])

    def _compute(self, a, b, out, accumulate):
        shape = Shape(a.shape[0], a.shape[1], b.shape[1])
        call = self._tile_call(b)
        if call is not None:                   # C = A @ (W + a z)^T: the host sends the call, not W
            run, transposed = self._perturbed_route(shape), False
            if run.N != shape.N and call.n_valid is None:
                call = replace(call, n_valid=shape.N)      # padded columns of B stay zero
        else:
            route = self._route(shape)
            if route is None:
                c = a @ b
                return _store(c, out, accumulate), False
            run, transposed = route
            if transposed:
                a, b = b.T, a.T
        c = self._on_array(a, b, run, call)
        return _store(c.T if transposed else c, out, accumulate), True

    def _on_array(self, a, b, run: Shape, call) -> np.ndarray:
        """C = A @ B (B perturbed in the tiles by ``call``, if any) run as ``run``: a view of C."""
        ops = self.operands
        a_buf = ops.operand("A", a, (run.M, run.K), self.weights)
        if self.spec.b_layout == "col":
            b_buf = ops.operand("B", b.T, (run.N, run.K), self.weights)
        else:
            b_buf = ops.operand("B", b, (run.K, run.N), self.weights)
        c_buf = ops.output((run.M, run.N))
        self._execute(run, a_buf, b_buf, c_buf, perturb=call)
        ops.work.calls += 1
        ops.work.perturbed_calls += call is not None
        return ops.result(c_buf, (run.M, run.N), a.shape[0], b.shape[1])

    def summary(self) -> str:
        """The offload line, and what the host did for it."""
        w = self.host_work
        line = (f"{super().summary()}\nnpu host work: {w.calls} calls, {w.weight_elems:,} weight elements "
                f"converted ({w.weight_conversions} conversions, {w.weight_hits} resident hits)")
        if w.perturbed_calls:
            line += f"; {w.perturbed_calls} calls with the weights perturbed in the tiles"
        return line

    @property
    def host_work(self):
        """What the host did for the offloaded calls (:class:`~zoforge.host.npu_buffers.HostWork`)."""
        return self.operands.work

    def _compute_batched(self, a, b, out, accumulate):
        if accumulate:
            out += np.matmul(a, b)
        else:
            np.matmul(a, b, out=out)
        return False

    def _execute(self, run: Shape, a_buf, b_buf, c_buf, perturb=None) -> None:
        """Run the array on the three buffers (their contents are on the device already); ``perturb``:
        the tiles perturb B first (:class:`~zoforge.npu.perturb.PerturbCall`)."""
        raise NotImplementedError


@dataclass
class NpuEmuBackend(_NpuBase):
    """The emulator: bit-level data movement and bf16 numerics of the NPU, at numpy speed."""

    name: str = "npu-emu"

    def __post_init__(self) -> None:
        super().__post_init__()
        from ..npu.emulator import NpuEmulator
        self.emulator = NpuEmulator(self.spec)
        self.operands = Operands(self.spec, EmuMemory())

    def _execute(self, run, a_buf, b_buf, c_buf, perturb=None):
        from ..npu.plan import plans
        ops, spec = self.operands, self.spec
        bufs = {"A": ops.flat(a_buf, spec.dtype_in), "B": ops.flat(b_buf, spec.dtype_in),
                "C": ops.flat(c_buf, spec.dtype_out)}
        # The plan was validated when the shape was admitted; skip re-validating on every call.
        self.emulator.run_plans(plans(spec, run), bufs, check=False, perturb=perturb)


@dataclass
class NpuXrtBackend(_NpuBase):
    """A real NPU: ``build`` is a directory from ``zoforge npu build`` (final.xclbin, insts_MxKxN.bin,
    design.json). Fails with one line when pyxrt or the device is missing."""

    name: str = "npu"
    build: str = "runs/npu"
    device_index: int = 0

    def __post_init__(self) -> None:
        root = pathlib.Path(self.build)
        meta = root / "design.json"
        self._runs: dict[str, list[str]] = {}
        if meta.is_file():
            info = json.loads(meta.read_text())
            self.spec, self.shapes = info["spec"], self.shapes or ",".join(info["shapes"])
            self._runs = info.get("runs", {})
        super().__post_init__()
        try:
            import pyxrt  # noqa: F401  (ships with XRT, not PyPI)
        except ImportError:
            raise XrtMissing("npu: pyxrt (XRT's Python binding) is not importable; install XRT with the amdxdna "
                             "driver on a Ryzen AI machine, or use --matmul npu-emu") from None
        self._xrt = pyxrt
        xclbin = root / "final.xclbin"
        if not xclbin.is_file():
            raise XrtMissing(f"npu: {xclbin} not found; run `zoforge npu build {self.spec} --shapes ... -o {root}`")
        try:
            self._device = pyxrt.device(self.device_index)
        except Exception as e:          # pyxrt raises RuntimeError subclasses without a stable type
            raise XrtMissing(f"npu: no NPU device {self.device_index} ({e}); is the amdxdna driver loaded?") from None
        xb = pyxrt.xclbin(str(xclbin))
        kname = next(k.get_name() for k in xb.get_kernels() if k.get_name().startswith("MLIR_AIE"))
        self._device.register_xclbin(xb)
        self._ctx = pyxrt.hw_context(self._device, xb.get_uuid())
        self._kernel = pyxrt.kernel(self._ctx, kname)
        self._insts: dict[Shape, list] = {}
        self._root = root
        self.operands = Operands(self.spec, XrtMemory(pyxrt, self._device, self._kernel))

    def _instructions(self, shape: Shape) -> list:
        """(instruction BO, words) per run of ``shape``: one, or several when the shape's runtime
        sequence was split (design.json's ``runs``)."""
        if shape not in self._insts:
            streams = []
            for stem in self._runs.get(str(shape), [str(shape)]):
                path = self._root / f"insts_{stem}.bin"
                if not path.is_file():
                    raise XrtMissing(f"npu: {path} not found; rebuild with --shapes including {shape}")
                words = np.fromfile(path, dtype=np.uint32)
                bo = self._xrt.bo(self._device, words.nbytes, self._xrt.bo.cacheable, self._kernel.group_id(1))
                bo.write(words.view(np.uint8), 0)
                bo.sync(self._xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE)
                streams.append((bo, words.size))
            self._insts[shape] = streams
        return self._insts[shape]

    def _execute(self, run, a_buf, b_buf, c_buf, perturb=None):
        if perturb is not None:
            # The per-call words (seed, start, q, a) are run-time parameters that the instruction stream
            # writes into each core; patching them per call into the stream is not done yet.
            raise XrtMissing("npu: in-tile perturbation needs its per-call run-time parameters written into the "
                             "instruction stream, which this version does only in the emulator; use --matmul "
                             "npu-emu, or a design with perturb=none on the NPU")
        for ibo, n_words in self._instructions(run):   # the runs of one shape, in order, on the same buffers
            state = self._kernel(3, ibo, n_words, a_buf, b_buf, c_buf).wait()
            if state != self._xrt.ert_cmd_state.ERT_CMD_STATE_COMPLETED:
                raise ToolError(f"npu: run of {run} ended in state {state}")
