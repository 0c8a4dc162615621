"""The host side of an NPU GEMM call: device buffers, resident bf16 weights, fused activation conversion.

Shared by the ``npu`` backend (XRT buffer objects) and ``npu-emu`` (numpy arrays standing in for them),
so the host does the same work per call in both; only :class:`Memory` differs.

* **Weights are resident.** An operand that lies inside the model's weight vector (bound with
  :meth:`~zoforge.host.backend.MatmulBackend.bind_weights`) gets its own buffer, holding it in bf16 in
  the layout the tile reads (B^T row-major for ``b_layout=col``, zero-padded to the design's blocks). It
  is converted when its tensor's version (:meth:`Params.version_at <zoforge.host.params.Params.version_at>`)
  changed since the last conversion -- once per optimizer update of that tensor -- and reused on every
  other call. The key is the
  operand's place in the vector (offset, shape, strides) and the device role (A or B), so a weight used
  in two layouts (forward W^T, backward W) has two buffers.
* **Activations are converted once, straight into the buffer:** fp32 -> bf16 (RNE, ``ml_dtypes``) and
  the transpose/layout in one numpy assignment into the mapped buffer memory; no temporary copy.
* **C** is read from the mapped output buffer after the sync and copied (or added, for ``+=``) into the
  caller's array: one pass.

Buffers are kept per (role, padded shape, operand shape), so the zero padding is written once, when
the buffer is made. :class:`HostWork` counts what the host did; the performance model prices the
same items (:mod:`zoforge.npu.perf`).
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

from ..npu.hardware import DTYPE_BYTES
from ..npu.numerics import STORAGE, from_bf16

__all__ = ["HostWork", "Memory", "EmuMemory", "XrtMemory", "Operands", "weight_key"]


@dataclass
class HostWork:
    """What the host did for the offloaded calls (elements, not bytes: fp32 in, device dtype out)."""
    calls: int = 0
    perturbed_calls: int = 0            # of ``calls``: the tiles perturbed the weight (no host pass)
    weight_conversions: int = 0         # resident weight buffers (re)filled
    weight_elems: int = 0
    weight_hits: int = 0                # calls that found their weight converted already
    activation_elems: int = 0           # fp32 -> bf16 per call
    c_elems: int = 0                    # C elements copied or added out
    syncs: int = 0                      # buffer syncs to or from the device


class Memory:
    """Device buffers: allocate, map into host memory, sync. ``role`` is A, B or C (the kernel argument)."""

    def alloc(self, role: str, nbytes: int):
        raise NotImplementedError

    def array(self, handle) -> np.ndarray:
        """The buffer's host memory as uint8 (writes go straight into it)."""
        raise NotImplementedError

    def to_device(self, handle) -> None:
        raise NotImplementedError

    def from_device(self, handle) -> None:
        raise NotImplementedError


class EmuMemory(Memory):
    """numpy arrays: the emulator reads and writes them directly, so syncs have nothing to move."""

    def alloc(self, role, nbytes):
        return np.zeros(nbytes, dtype=np.uint8)

    def array(self, handle):
        return handle

    def to_device(self, handle):
        pass

    def from_device(self, handle):
        pass


class XrtMemory(Memory):
    """XRT buffer objects of one kernel: host-only BOs in the kernel group of the argument, mapped once
    (docs/references.md#xrt-host-flow, docs/references.md#xrt-bo-map)."""

    GROUPS = {"A": 3, "B": 4, "C": 5}

    def __init__(self, pyxrt, device, kernel):
        self._xrt, self._device, self._kernel = pyxrt, device, kernel
        self._maps: dict[int, np.ndarray] = {}

    def alloc(self, role, nbytes):
        bo = self._xrt.bo(self._device, nbytes, self._xrt.bo.host_only, self._kernel.group_id(self.GROUPS[role]))
        view = np.frombuffer(bo.map(), dtype=np.uint8, count=nbytes)
        view[:] = 0                              # a new BO's contents are undefined; padding must be zero
        self._maps[id(bo)] = view
        return bo

    def array(self, handle):
        return self._maps[id(handle)]

    def to_device(self, handle):
        handle.sync(self._xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE)

    def from_device(self, handle):
        handle.sync(self._xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE)


def weight_key(weights, x: np.ndarray):
    """(offset in bytes, shape, strides) of ``x`` inside the weight vector, or None for an activation."""
    if weights is None:
        return None
    data = weights.data
    start = data.__array_interface__["data"][0]
    at = x.__array_interface__["data"][0]
    if not start <= at < start + data.nbytes:
        return None
    return at - start, x.shape, x.strides


class Operands:
    """The device buffers of one design's calls and the resident weights (see the module docstring)."""

    def __init__(self, spec, memory: Memory):
        self.spec, self.memory = spec, memory
        self.work = HostWork()
        self._buffers: dict[tuple, object] = {}
        self._weights: dict[tuple, tuple[int, object]] = {}      # key -> (version converted, buffer)
        self._owner = None

    def _buffer(self, key: tuple, role: str, nbytes: int):
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = self.memory.alloc(role, nbytes)
        return buf

    def _fill(self, buf, x: np.ndarray, padded: tuple[int, int]) -> None:
        """x (fp32, any strides) -> bf16 into the top-left of the padded row-major buffer, in one pass."""
        dev = self.memory.array(buf).view(ml_dtypes.bfloat16).reshape(padded)
        dev[:x.shape[0], :x.shape[1]] = x if x.dtype == np.float32 else x.astype(np.float32)
        self.memory.to_device(buf)
        self.work.syncs += 1

    def operand(self, role: str, x: np.ndarray, padded: tuple[int, int], weights=None):
        """The buffer holding ``x`` -- the device operand ``role`` as the tile reads it, row-major --
        converted now, or already resident when ``x`` is a weight of the current version."""
        nbytes = padded[0] * padded[1] * DTYPE_BYTES[self.spec.dtype_in]
        key = weight_key(weights, x)
        if key is None:
            buf = self._buffer(("x", role, padded, x.shape), role, nbytes)
            self._fill(buf, x, padded)
            self.work.activation_elems += x.size
            return buf
        if weights is not self._owner:                   # another model's vector: drop the old copies
            self._weights.clear()
            self._owner = weights
        now = weights.version_at(key[0] // weights.data.itemsize)
        key = (*key, role, padded)
        version, buf = self._weights.get(key, (None, None))
        if buf is None:
            buf = self.memory.alloc(role, nbytes)
        if version != now:
            self._fill(buf, x, padded)
            self._weights[key] = (now, buf)
            self.work.weight_conversions += 1
            self.work.weight_elems += x.size
        else:
            self.work.weight_hits += 1
        return buf

    def output(self, padded: tuple[int, int]):
        return self._buffer(("c", padded), "C", padded[0] * padded[1] * DTYPE_BYTES[self.spec.dtype_out])

    def result(self, buf, padded: tuple[int, int], rows: int, cols: int) -> np.ndarray:
        """A (rows, cols) view of C after the run (valid until the next call of this shape: copy it out)."""
        self.memory.from_device(buf)
        self.work.syncs += 1
        self.work.c_elems += rows * cols
        raw = self.memory.array(buf).view(STORAGE[self.spec.dtype_out]).reshape(padded)[:rows, :cols]
        return from_bf16(raw) if self.spec.dtype_out == "bf16" else raw

    def flat(self, buf, dtype: str) -> np.ndarray:
        """The buffer as the emulator reads it: a flat array of the device dtype's storage."""
        return self.memory.array(buf).view(STORAGE[dtype])
