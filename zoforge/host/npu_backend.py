"""Matmul backends on the NPU: ``npu-emu`` (the dataflow emulator) and ``npu`` (a real NPU via pyxrt).

Both serve the shapes of one GEMM design and hand every other shape to the CPU, reporting which calls
were offloaded (``MatmulStats.offloaded_flops``). A product whose shape does not divide into the design's
blocks runs transposed (C^T = B^T @ A^T) or zero-padded (:func:`~zoforge.npu.design.device_shape`), so
every GPT-2 matmul, the LM head's included, reaches the array. Per offloaded call, like the reference host glue
(docs/references.md#npu-reference-host,
docs/references.md#xrt-host-flow): fp32 -> bf16 (RNE) of A and B, B laid out as the design expects
(``b_layout=col``: B^T row-major, which is llm.c's weight itself), C (fp32) copied out and, for the
backward pass's ``+=``, accumulated on the host. Stacked (attention) products stay on the CPU, as in
llm.c where they are loops, not matmuls.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import ToolError
from ..npu.design import GemmDesign, GemmSpec, Shape, device_shape, parse_shapes
from .backend import MatmulBackend

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
        return c
    out[...] = c
    return out


@dataclass
class _NpuBase(MatmulBackend):
    spec: str | GemmSpec = "npu1-gpt2"
    #: shapes served: None/"auto" = every shape the design can run, else "gpt2[:BT]", "MxKxN,..." or tuples
    shapes: object = None
    _served: dict = field(default_factory=dict, repr=False)

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

    def _compute(self, a, b, out, accumulate):
        shape = Shape(a.shape[0], a.shape[1], b.shape[1])
        route = self._route(shape)
        if route is None:
            c = a @ b
            return _store(c, out, accumulate), False
        run, transposed = route
        if transposed:
            a, b = b.T, a.T
        M, K = a.shape
        N = b.shape[1]
        if (M, K, N) != run:                       # zero padding up to the design's blocks
            a = np.pad(np.asarray(a, dtype=np.float32), ((0, run.M - M), (0, run.K - K)))
            b = np.pad(np.asarray(b, dtype=np.float32), ((0, run.K - K), (0, run.N - N)))
        c = self._offload(a, b)[:M, :N]
        return _store(c.T if transposed else c, out, accumulate), True

    def _compute_batched(self, a, b, out, accumulate):
        if accumulate:
            out += np.matmul(a, b)
        else:
            np.matmul(a, b, out=out)
        return False

    def _offload(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass
class NpuEmuBackend(_NpuBase):
    """The emulator: bit-level data movement and bf16 numerics of the NPU, at numpy speed."""

    name: str = "npu-emu"

    def __post_init__(self) -> None:
        super().__post_init__()
        from ..npu.emulator import NpuEmulator
        self.emulator = NpuEmulator(self.spec)

    def _offload(self, a, b):
        # The plan was validated when the shape was admitted; skip re-validating on every call.
        c, _ = self.emulator.run(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32), check=False)
        return c


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
        self._bos: dict[str, object] = {}
        self._root = root

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

    def _bo(self, name: str, group: int, nbytes: int):
        # keep one max-size BO per operand, grown on demand (the reference preallocates 3072x3072)
        bo = self._bos.get(name)
        if bo is None or bo[1] < nbytes:
            bo = (self._xrt.bo(self._device, nbytes, self._xrt.bo.host_only, self._kernel.group_id(group)), nbytes)
            self._bos[name] = bo
        return bo[0]

    def _offload(self, a, b):
        from ..npu.numerics import to_bf16
        M, K = a.shape
        N = b.shape[1]
        shape = Shape(M, K, N)
        streams = self._instructions(shape)
        a_dev = to_bf16(np.ascontiguousarray(a, dtype=np.float32))
        b_dev = to_bf16(np.ascontiguousarray(b.T if self.spec.b_layout == "col" else b, dtype=np.float32))
        bos = []
        sync = self._xrt.xclBOSyncDirection
        for name, group, data in (("A", 3, a_dev), ("B", 4, b_dev)):
            bo = self._bo(name, group, data.nbytes)
            bo.write(data.view(np.uint8), 0)
            bo.sync(sync.XCL_BO_SYNC_BO_TO_DEVICE)
            bos.append(bo)
        c_bytes = M * N * self.spec.bytes_out
        c_bo = self._bo("C", 5, c_bytes)
        for ibo, n_words in streams:                 # the runs of one shape, in order, on the same buffers
            state = self._kernel(3, ibo, n_words, *bos, c_bo).wait()
            if state != self._xrt.ert_cmd_state.ERT_CMD_STATE_COMPLETED:
                raise ToolError(f"npu: run of {shape} ended in state {state}")
        c_bo.sync(sync.XCL_BO_SYNC_BO_FROM_DEVICE)
        raw = np.frombuffer(c_bo.read(c_bytes, 0), dtype=np.uint8)
        if self.spec.dtype_out == "bf16":
            from ..npu.numerics import from_bf16
            return from_bf16(raw.view(np.uint16)).reshape(M, N)
        return raw.view(np.float32).reshape(M, N).copy()

