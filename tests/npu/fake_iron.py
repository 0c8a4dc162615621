"""A stand-in for mlir-aie's `aie.iron` Python API that keeps the rules real IRON enforces, so the
lowering is exercised where mlir-aie is absent. It records calls and emits a small text module (a
device section and a runtime sequence), not MLIR. Each rule names the mlir-aie source it models; the
files and commits are listed in docs/references.md ("mlir-aie API rules").

Two generations: ``install(monkeypatch, buffer="Buffer")`` (late November 2025 on) or
``buffer="GlobalBuffer"`` (before); ``callback_runtime=True`` removes ``Runtime.sequence``.
"""

import contextlib
import sys
import types

import ml_dtypes
import numpy as np


class Log(list):
    pass


LOG = Log()
ROWS = 6                 # shim row 0, memtile row 1, compute rows 2..5 (npu1 and npu2 target models)


class Load:
    """A value loaded at run time on a core (a run-time parameter): symbolic, never a Python int."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"load({self.what})"

    def __index__(self):
        raise TypeError(f"{self.what} is loaded at run time on the core; it has no value while tracing")


def range_(n):
    """controlflow.range_: an scf.for loop; the body is traced once, whatever the bound."""
    LOG.append(("loop", repr(n) if isinstance(n, Load) else int(n)))
    yield Load("iv")
    LOG.append(("end_loop",))


class Tile:
    def __init__(self, col, row):
        self.col, self.row = col, row

    def __eq__(self, other):
        return isinstance(other, Tile) and (self.col, self.row) == (other.col, other.row)

    def __hash__(self):
        return hash((self.col, self.row))

    def __repr__(self):
        return f"Tile({self.col}, {self.row})"


class Device:
    def __init__(self, name, cols):
        self.name, self.cols, self.rows = name, cols, ROWS

    def resolve_tile(self, tile):
        # device.py resolve_tile indexes its per-device tile table: a tile outside it raises
        if not (0 <= tile.col < self.cols and 0 <= tile.row < self.rows):
            raise IndexError(f"tile {tile} is outside {self.name} ({self.cols} columns x {self.rows} rows)")


class RuntimeEndpoint:
    def __init__(self, tile):
        self.tile = tile

    def __eq__(self, other):       # runtime/endpoint.py: same (col, row) = same endpoint
        return isinstance(other, RuntimeEndpoint) and self.tile == other.tile


class LinkEndpoint:
    def __init__(self, tile):
        self.tile = tile


class Handle:
    def __init__(self, fifo, is_prod, depth):
        self.fifo, self.is_prod, self.depth = fifo, is_prod, depth
        self._endpoint = None

    @property
    def endpoint(self):
        return self._endpoint

    @endpoint.setter
    def endpoint(self, endpoint):
        # dataflow/objectfifo.py ObjectFifoHandle.endpoint setter
        if self._endpoint is not None and self._endpoint != endpoint:
            raise ValueError(f"Endpoint already set for ObjectFifoHandle {self.fifo.name}."
                             f"{'prod' if self.is_prod else 'cons'}")
        self._endpoint = endpoint

    def acquire(self, n):
        if self.depth < n:
            raise ValueError(f"Number of elements to acquire {n} must be smaller than depth {self.depth}")
        LOG.append(("acquire", self.fifo.name, n))
        return f"{self.fifo.name}[obj]"

    def release(self, n):
        if self.depth < n:
            raise ValueError(f"Number of elements to release {n} must be smaller than depth {self.depth}")
        LOG.append(("release", self.fifo.name, n))

    def _check(self, offsets, **lists):
        for what, value in lists.items():
            if value is not None and len(value) != len(offsets):
                raise ValueError(f"Number of {what} does not match number of offsets")

    def split(self, offsets, placement=None, depths=None, obj_types=None, names=None, dims_to_stream=None,
              dims_from_stream=None, plio=False):
        if self.is_prod:
            raise ValueError("Cannot split() a prod ObjectFifoHandle")
        self._check(offsets, depths=depths, obj_types=obj_types, names=names, dims_to_stream=dims_to_stream)
        n = len(offsets)
        subs = [ObjectFifo((obj_types or [self.fifo.obj_type] * n)[i], depth=(depths or [self.depth] * n)[i],
                           name=(names or [f"{self.fifo.name}_split{i}"] * n)[i],
                           dims_to_stream=(dims_to_stream or [None] * n)[i]) for i in range(n)]
        self.endpoint = LinkEndpoint(placement)
        for s in subs:
            s.prod().endpoint = LinkEndpoint(placement)
        LOG.append(("link", "split", self.fifo.name, [s.name for s in subs], list(offsets)))
        return subs

    def forward(self, placement=None, obj_type=None, depth=None, name=None, dims_to_stream=None,
                dims_from_stream=None, plio=False):
        if self.is_prod:
            raise ValueError("Cannot forward a prod ObjectFifoHandle")
        return self.split([0], placement, [depth] if depth else None, [obj_type] if obj_type else None,
                          [name] if name else None, [dims_to_stream] if dims_to_stream else None)[0]

    def join(self, offsets, placement=None, depths=None, obj_types=None, names=None, dims_to_stream=None,
             dims_from_stream=None, plio=False):
        if not self.is_prod:
            raise ValueError("Cannot join() a cons ObjectFifoHandle")
        self._check(offsets, depths=depths, obj_types=obj_types, names=names, dims_to_stream=dims_to_stream)
        n = len(offsets)
        subs = [ObjectFifo((obj_types or [self.fifo.obj_type] * n)[i], depth=(depths or [self.depth] * n)[i],
                           name=(names or [f"{self.fifo.name}_join{i}"] * n)[i]) for i in range(n)]
        self.endpoint = LinkEndpoint(placement)
        for s in subs:
            s.cons().endpoint = LinkEndpoint(placement)
        LOG.append(("link", "join", self.fifo.name, [s.name for s in subs], list(offsets)))
        return subs


class ObjectFifo:
    FIFOS = []

    def __init__(self, obj_type, depth=2, name=None, dims_to_stream=None, dims_from_stream_per_cons=None,
                 plio=False, pad_dimensions=None, disable_synchronization=False):
        if isinstance(depth, int) and depth < 1:
            raise ValueError(f"Default ObjectFifo depth must be > 0, but got {depth}")
        self.obj_type, self.depth, self.name, self.dims = obj_type, depth, name, dims_to_stream
        self._prod, self._cons = None, []
        ObjectFifo.FIFOS.append(self)
        LOG.append(("fifo", name, depth, dims_to_stream))

    def prod(self, depth=None):           # one producer handle per fifo
        if self._prod is None:
            self._prod = Handle(self, True, depth or self.depth)
        return self._prod

    def cons(self, depth=None, dims_from_stream=None):   # a new consumer handle per call
        self._cons.append(Handle(self, False, depth or self.depth))
        return self._cons[-1]


class Kernel:
    def __init__(self, name, bin_name, arg_types=[]):
        self.name, self.bin_name, self.arg_types = name, bin_name, list(arg_types)

    def __call__(self, *args):
        # kernel.py declares external_func(name, inputs=arg_types); func.call's verifier rejects a call
        # whose operand count differs from the callee's
        if len(args) != len(self.arg_types):
            raise ValueError(f"'func.call' op incorrect number of operands for callee {self.name}: "
                             f"{len(args)} given, {len(self.arg_types)} declared")
        LOG.append(("call", self.name, len(args)))


class _Buffer:
    def __init__(self, type=None, initial_value=None, name=None, tile=None, use_write_rtp=False, **placement):
        if type is None and initial_value is None:
            raise ValueError("Must provide either type, initial value, or both.")
        self.type, self.name, self.tile, self.use_write_rtp = type, name, tile, use_write_rtp
        self._resolved = False
        self.writes = {}

    def __getitem__(self, i):
        if not self._resolved:
            raise AttributeError("Cannot index into Buffer before it has been resolved.")
        return Load(f"{self.name}[{i}]")

    def __setitem__(self, i, v):
        if not self._resolved:
            raise AttributeError("Cannot index into Buffer before it has been resolved.")
        self.writes[i] = v
        LOG.append(("rtp_write", self.name, i, v))


class Buffer(_Buffer):
    pass


class GlobalBuffer(_Buffer):
    def __init__(self, type=None, initial_value=None, name=None, placement=None, use_write_rtp=False):
        super().__init__(type, initial_value, name, placement, use_write_rtp)


class WorkerRuntimeBarrier:
    def wait_for_value(self, v):
        LOG.append(("barrier", v))


class Worker:
    def __init__(self, core_fn, fn_args=[], placement=None, while_true=True, stack_size=None, **kwargs):
        self.core_fn, self.fn_args, self.tile = core_fn, list(fn_args), placement
        for arg in self.fn_args:
            if isinstance(arg, _Buffer) and arg.tile is None:
                arg.tile = placement
            if isinstance(arg, Handle):
                arg.endpoint = LinkEndpoint(placement)


class RuntimeData:
    def __init__(self, arr_type):
        self.arr_type = arr_type
        self.size = int(np.prod(arr_type.__args__[0]))


class TaskGroup:
    pass


class Runtime:
    def __init__(self, strict_task_groups=True):
        self._rt_data, self._open, self._tasks, self.workers = [], [], [], []

    @contextlib.contextmanager
    def sequence(self, *types_):
        self._rt_data = [RuntimeData(t) for t in types_]
        yield self._rt_data[0] if len(self._rt_data) == 1 else tuple(self._rt_data)
        if self._open:          # runtime.py: "Failed to close task groups"
            raise ValueError(f"Failed to close task groups: {len(self._open)}")

    def start(self, *workers):
        for w in workers:
            if not isinstance(w, Worker):
                raise ValueError("Runtime can only start Worker objects")
            self.workers.append(w)

    def inline_ops(self, fn, args):
        self._tasks.append(("inline", fn, args))      # runs at resolve time, on resolved buffers

    def set_barrier(self, barrier, value):
        self._tasks.append(("set_barrier", value))

    def task_group(self):
        tg = TaskGroup()
        self._open.append(tg)
        return tg

    def finish_task_group(self, tg):
        self._open.remove(tg)                  # ValueError for a group not open (as list.remove)
        self._tasks.append(("finish",))

    def _dma(self, op, handle, data, tap, task_group, wait, placement):
        if data not in self._rt_data:          # runtime.py fill/drain
            raise ValueError(f"{'Source' if op == 'fill' else 'Destination'} {data} is not a RuntimeData object "
                             f"generated by sequence()")
        if tap is None:
            tap = TensorAccessPattern((data.size,), 0, [data.size], [1])
        handle.endpoint = RuntimeEndpoint(placement)
        self._tasks.append((op, handle, data, tap, wait, placement))

    def fill(self, in_fifo, source, tap=None, task_group=None, wait=False, placement=None):
        if not in_fifo.is_prod:
            raise ValueError("fill needs a producer handle")
        self._dma("fill", in_fifo, source, tap, task_group, wait, placement)

    def drain(self, out_fifo, dest, tap=None, task_group=None, wait=False, placement=None):
        if out_fifo.is_prod:
            raise ValueError("drain needs a consumer handle")
        self._dma("drain", out_fifo, dest, tap, task_group, wait, placement)


class Program:
    def __init__(self, device, rt):
        self.device, self.rt = device, rt

    def resolve_program(self, placer=None):
        device_lines = []
        tiles = {w.tile for w in self.rt.workers}
        fifos, ObjectFifo.FIFOS = ObjectFifo.FIFOS, []      # the fifos this program made
        for f in fifos:
            for h in [f._prod, *f._cons]:
                if h is not None and h.endpoint is not None and h.endpoint.tile is not None:
                    tiles.add(h.endpoint.tile)
            device_lines.append(f"  aie.objectfifo @{f.name} depth {f.depth} dims {f.dims}")
        for t in sorted(tiles, key=lambda t: (t.col, t.row)):
            self.device.resolve_tile(t)
        for w in self.rt.workers:             # each core body traced once, with loaded RTP values
            for arg in w.fn_args:
                if isinstance(arg, _Buffer):
                    arg._resolved = True
            LOG.append(("core", w.tile.col, w.tile.row))
            w.core_fn(*w.fn_args)
            device_lines.append(f"  aie.core({w.tile.col}, {w.tile.row})")
        seq = []
        for task in self.rt._tasks:
            if task[0] == "inline":
                task[1](*task[2])
            elif task[0] in ("fill", "drain"):
                op, handle, data, tap, wait, placement = task
                LOG.append((op, handle.fifo.name, self.rt._rt_data.index(data), tap.sizes, tap.strides,
                            tap.offset, wait))
                seq.append(f"    {op} {handle.fifo.name} {tap.sizes} {tap.strides} {tap.offset}")
            else:
                LOG.append(task)
        return "\n".join([f"aie.device({self.device.name}) {{", *device_lines, "  aiex.runtime_sequence() {",
                          *seq, "  }", "}"])


class TensorAccessPattern:
    """helpers/taplib/tap.py and utils.py: any number of dimensions; sizes >= 1, strides >= 0, as many
    strides as sizes; an offset inside the tensor; no access past its end."""

    def __init__(self, tensor_dims, offset=0, sizes=None, strides=None):
        dims = list(tensor_dims)
        if not dims or any(d <= 0 for d in dims):
            raise ValueError(f"Each tensor dimension must be >= 1 (dimensions={dims})")
        total = int(np.prod(dims))
        if offset < 0:
            raise ValueError(f"Offset must be >= 0 (offset={offset})")
        if offset >= total:
            raise ValueError(f"Offset too large: {offset}. Max value allowed for tensor: {total}")
        sizes = list(dims if sizes is None else sizes)
        if strides is None:
            strides = [int(np.prod(sizes[i + 1:])) for i in range(len(sizes))]
        strides = list(strides)
        if not sizes or not strides:
            raise ValueError("len(sizes) must be >0")
        if len(sizes) != len(strides):
            raise ValueError(f"len(sizes) ({len(sizes)}) != len(strides) ({len(strides)})")
        if any(s < 1 for s in sizes):
            raise ValueError(f"All sizes must be >= 1, but got {sizes}")
        if any(s < 0 for s in strides):
            raise ValueError(f"All strides must be >= 0, but got {strides}")
        for i in range(len(sizes) - 1):      # leading size-1 dimensions get stride 0 (utils.py cleaning)
            if sizes[i] != 1:
                break
            strides[i] = 0
        top = offset + sum((sz - 1) * st for sz, st in zip(sizes, strides))
        if top >= total:
            raise ValueError(f"Access pattern goes out of bounds: max_index={top}, total_size={total}")
        self.sizes, self.strides, self.offset = sizes, strides, offset


def install(monkeypatch, *, buffer="Buffer", callback_runtime=False, version="1.1.0"):
    """Put the stand-in in sys.modules as ``aie``; returns the call log."""
    LOG.clear()
    ObjectFifo.FIFOS = []
    mods = {name: types.ModuleType(name) for name in
            ("aie", "aie.iron", "aie.iron.placers", "aie.iron.device", "aie.iron.controlflow", "aie.iron.dtype",
             "aie.helpers", "aie.helpers.taplib")}
    iron = mods["aie.iron"]
    for obj in (ObjectFifo, Kernel, WorkerRuntimeBarrier, Worker, Program):
        setattr(iron, obj.__name__, obj)
    setattr(iron, buffer, {"Buffer": Buffer, "GlobalBuffer": GlobalBuffer}[buffer])
    rt = Runtime
    if callback_runtime:
        rt = type("Runtime", (Runtime,), {"sequence": None})
    iron.Runtime = rt
    mods["aie.iron.placers"].SequentialPlacer = lambda: "placer"
    dev = mods["aie.iron.device"]
    dev.Tile = Tile
    dev.NPU1 = lambda: Device("npu1", 4)
    dev.NPU2 = lambda: Device("npu2", 8)
    for i in range(1, 4):
        setattr(dev, f"NPU1Col{i}", lambda i=i: Device(f"npu1_{i}col", i))
    for i in range(1, 8):
        setattr(dev, f"NPU2Col{i}", lambda i=i: Device(f"npu2_{i}col", i))
    mods["aie.iron.controlflow"].range_ = range_
    dtypes = {"bf16": ml_dtypes.bfloat16, "i8": np.int8, "i16": np.int16, "f32": np.float32, "i32": np.int32}
    mods["aie.iron.dtype"].str_to_dtype = lambda s: dtypes[s]
    mods["aie.helpers.taplib"].TensorAccessPattern = TensorAccessPattern
    mods["aie"].iron, mods["aie"].helpers = iron, mods["aie.helpers"]
    mods["aie"].__version__ = version
    iron.placers, iron.device, iron.controlflow, iron.dtype = (mods["aie.iron.placers"], dev,
                                                              mods["aie.iron.controlflow"], mods["aie.iron.dtype"])
    mods["aie.helpers"].taplib = mods["aie.helpers.taplib"]
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return LOG
