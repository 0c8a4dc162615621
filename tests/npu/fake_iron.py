"""A recording stand-in for the 2025 `aie.iron` API (signatures of mlir-aie @366fd0e05), so the lowering's
calls are exercised where mlir-aie is absent. It checks call shapes, not MLIR."""

import contextlib
import sys
import types

import numpy as np


class Log(list):
    pass


LOG = Log()


class Handle:
    def __init__(self, fifo, kind):
        self.fifo, self.kind = fifo, kind

    def acquire(self, n):
        LOG.append(("acquire", self.fifo.name, n))
        return f"{self.fifo.name}[obj]"

    def release(self, n):
        LOG.append(("release", self.fifo.name, n))

    def split(self, offsets, placement=None, depths=None, obj_types=None, names=None, dims_to_stream=None,
              dims_from_stream=None, plio=False):
        assert self.kind == "cons" and len(offsets) == len(names) == len(obj_types) == len(dims_to_stream)
        return [ObjectFifo(t, name=n, dims_to_stream=d) for t, n, d in zip(obj_types, names, dims_to_stream)]

    def forward(self, placement=None, obj_type=None, depth=None, name=None, dims_to_stream=None,
                dims_from_stream=None, plio=False):
        assert self.kind == "cons"
        return ObjectFifo(obj_type, name=name, dims_to_stream=dims_to_stream)

    def join(self, offsets, placement=None, depths=None, obj_types=None, names=None, dims_to_stream=None,
             dims_from_stream=None, plio=False):
        assert self.kind == "prod" and len(offsets) == len(names) == len(depths)
        return [ObjectFifo(t, depth=d, name=n) for t, d, n in zip(obj_types, depths, names)]


class ObjectFifo:
    def __init__(self, obj_type, depth=2, name=None, dims_to_stream=None, default_dims_from_stream_per_cons=None,
                 plio=False):
        self.name, self.depth, self.dims = name, depth, dims_to_stream
        LOG.append(("fifo", name, depth, dims_to_stream))

    def prod(self, depth=None):
        return Handle(self, "prod")

    def cons(self, depth=None, dims_from_stream=None):
        return Handle(self, "cons")


class Kernel:
    def __init__(self, name, bin_name, arg_types=[]):
        self.name = name

    def __call__(self, *args):
        LOG.append(("call", self.name, len(args)))


class GlobalBuffer:
    def __init__(self, type=None, initial_value=None, name=None, placement=None, use_write_rtp=False):
        assert use_write_rtp
        self.name, self.values = name, {}

    def __getitem__(self, i):
        return self.values.get(i, 2)

    def __setitem__(self, i, v):
        self.values[i] = v


class WorkerRuntimeBarrier:
    def wait_for_value(self, v):
        LOG.append(("barrier", v))


class Worker:
    def __init__(self, core_fn, fn_args=[], placement=None, while_true=True, stack_size=None):
        self.core_fn, self.fn_args, self.placement = core_fn, fn_args, placement


class TaskGroup:
    pass


class Runtime:
    def __init__(self):
        self.groups_open = 0

    @contextlib.contextmanager
    def sequence(self, *types_):
        assert len(types_) == 3
        yield ("A", "B", "C")
        assert self.groups_open == 0, "unfinished task group"

    def start(self, *workers):
        self.workers = workers

    def inline_ops(self, fn, args):
        fn(*args)

    def set_barrier(self, barrier, value):
        LOG.append(("set_barrier", value))

    def task_group(self):
        self.groups_open += 1
        return TaskGroup()

    def finish_task_group(self, tg):
        self.groups_open -= 1

    def fill(self, in_fifo, source, tap=None, task_group=None, wait=False, placement=None):
        assert in_fifo.kind == "prod"
        LOG.append(("fill", in_fifo.fifo.name, source, tap.sizes, tap.strides, tap.offset))

    def drain(self, out_fifo, dest, tap=None, task_group=None, wait=False, placement=None):
        assert out_fifo.kind == "cons"
        LOG.append(("drain", out_fifo.fifo.name, dest, tap.sizes, tap.strides, tap.offset, wait))


class Program:
    def __init__(self, device, rt):
        self.device, self.rt = device, rt

    def resolve_program(self, placer=None):
        for w in self.rt.workers:          # trace every core function once, as IRON does
            w.core_fn(*w.fn_args)
        return "module { fake }"


class TensorAccessPattern:
    def __init__(self, tensor_dims, offset, sizes, strides):
        assert len(sizes) == len(strides) == 4
        self.sizes, self.strides, self.offset = sizes, strides, offset


def install(monkeypatch):
    LOG.clear()
    mods = {name: types.ModuleType(name) for name in
            ("aie", "aie.iron", "aie.iron.placers", "aie.iron.device", "aie.iron.controlflow", "aie.iron.dtype",
             "aie.helpers", "aie.helpers.taplib")}
    iron = mods["aie.iron"]
    for obj in (ObjectFifo, Kernel, GlobalBuffer, WorkerRuntimeBarrier, Worker, Runtime, Program):
        setattr(iron, obj.__name__, obj)
    mods["aie.iron.placers"].SequentialPlacer = lambda: "placer"
    dev = mods["aie.iron.device"]
    dev.Tile = lambda col, row: (col, row)
    for name in ("NPU1", "NPU1Col1", "NPU1Col2", "NPU1Col3", "NPU2") + tuple(f"NPU2Col{i}" for i in range(1, 8)):
        setattr(dev, name, lambda name=name: name)
    mods["aie.iron.controlflow"].range_ = lambda n: range(int(n))
    mods["aie.iron.dtype"].str_to_dtype = lambda s: {"bf16": np.uint16, "f32": np.float32, "i16": np.int16,
                                                     "i8": np.int8, "i32": np.int32}[s]
    mods["aie.helpers.taplib"].TensorAccessPattern = TensorAccessPattern
    mods["aie"].iron, mods["aie"].helpers = iron, mods["aie.helpers"]
    iron.placers, iron.device, iron.controlflow, iron.dtype = (mods["aie.iron.placers"], dev,
                                                              mods["aie.iron.controlflow"], mods["aie.iron.dtype"])
    mods["aie.helpers"].taplib = mods["aie.helpers.taplib"]
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return LOG
