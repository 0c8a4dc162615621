"""Drive a component's input streams and drain its output streams in Amaranth's simulator, with
random gaps on both sides (valid held until transfer, as the stream rules require).

Payloads travel as flat integers (see :func:`pack_rows`), so the bench is independent of layouts.

Members: :func:`pack_rows`, :func:`unpack_rows`, :func:`run_streams`.
"""

from __future__ import annotations

import numpy as np

from .bytestream import StallError
from .pysim import run_testbench

__all__ = ["pack_rows", "unpack_rows", "run_streams"]


def pack_rows(*fields) -> list[int]:
    """Flat payload integers from per-beat fields, each given as (array (beats, n), bits per element);
    the first field occupies the low bits, like the first member of a StructLayout."""
    beats = len(fields[0][0])
    out = [0] * beats
    shift = 0
    for values, bits in fields:
        values = np.asarray(values, dtype=np.int64).reshape(beats, -1)
        mask = (1 << bits) - 1
        for j in range(values.shape[1]):
            col = (values[:, j] & mask).tolist()
            for b in range(beats):
                out[b] |= col[b] << shift
            shift += bits
    return out


def unpack_rows(raw: list[int], *fields) -> list[np.ndarray]:
    """The inverse of :func:`pack_rows`: fields given as (count, bits, signed); one array each."""
    out, shift = [], 0
    arr = [int(r) for r in raw]
    for count, bits, is_signed in fields:
        mask = (1 << bits) - 1
        cols = []
        for _ in range(count):
            col = np.array([(r >> shift) & mask for r in arr], dtype=np.uint64 if bits == 64 else np.int64)
            if is_signed:
                col = col.astype(np.int64)
                if bits < 64:
                    col = col - ((col >> (bits - 1)) << bits)
            cols.append(col.astype(np.int64))
            shift += bits
        out.append(np.stack(cols, axis=1) if cols else np.zeros((len(arr), 0), dtype=np.int64))
    return out


def run_streams(dut, sources: dict, sinks: dict, *, valid_prob: float = 0.7, ready_prob: float = 0.7,
                rng_seed: int = 0, side=(), on_out=None, prologue=None, epilogue=None,
                observe=(), stall_cycles: int = 100_000, vcd: str | None = None):
    """Simulate ``dut`` until every sink has transferred its count.

    sources  name -> list of flat payloads for ``dut.<name>``; lists may grow while running (loopback).
    sinks    name -> number of payloads to collect from ``dut.<name>``.
    side     list of (signal, source name, values): the signal holds the entry for the source's next
             payload, so it is stable over that payload's transfer ("sampled with each transfer").
    on_out   called as on_out(sink name, index, raw payload) after each output transfer.
    prologue async function(ctx) run before streaming (e.g. a reseed).
    epilogue async function(ctx) run after the last transfer (+2 cycles), before ``observe`` is read.
    observe  signals whose values are returned at the end.
    vcd      write a waveform of the whole run to this file.
    Returns (dict sink -> list of raw payloads, dict signal name -> final value). Raises
    :class:`~zoforge.sim.bytestream.StallError` when no output transfers for ``stall_cycles`` cycles;
    its ``received`` holds the payloads that did (a hung block is reported, not waited for forever).
    """
    rng = np.random.default_rng(rng_seed)
    got = {name: [] for name in sinks}
    final = {}

    async def bench(ctx):
        if prologue is not None:
            await prologue(ctx)
        pos = {name: 0 for name in sources}
        offering = {name: False for name in sources}
        ins = {name: getattr(dut, name) for name in sources}
        outs = {name: getattr(dut, name) for name in sinks}
        sample = []
        for name in sources:
            sample += [ins[name].valid, ins[name].ready]
        for name in sinks:
            sample += [outs[name].valid, outs[name].ready, outs[name].payload.as_value()]
        idle = 0
        while any(len(got[n]) < c for n, c in sinks.items()):
            idle += 1
            if idle > stall_cycles:
                done = ", ".join(f"{n} {len(got[n])}/{c}" for n, c in sinks.items())
                error = StallError(f"stream bench: no output for {stall_cycles} cycles ({done} transferred)")
                error.received = got
                raise error
            for name, payloads in sources.items():
                if not offering[name] and pos[name] < len(payloads) and rng.random() < valid_prob:
                    offering[name] = True
                    ctx.set(ins[name].payload.as_value(), payloads[pos[name]])
                ctx.set(ins[name].valid, offering[name])
            for sig, name, values in side:
                if pos[name] < len(values):
                    ctx.set(sig, int(values[pos[name]]))
            for name in sinks:
                ctx.set(outs[name].ready, int(rng.random() < ready_prob))
            values = await ctx.tick().sample(*sample)
            vals = values[-len(sample):]                 # drop the clock and reset values
            i = 0
            for name in sources:
                if vals[i] and vals[i + 1]:
                    pos[name] += 1
                    offering[name] = False
                i += 2
            for name in sinks:
                if vals[i] and vals[i + 1]:
                    got[name].append(int(vals[i + 2]))
                    idle = 0
                    if on_out is not None:
                        on_out(name, len(got[name]) - 1, int(vals[i + 2]))
                i += 3
        for name in sources:
            ctx.set(ins[name].valid, 0)
        await ctx.tick().repeat(2)
        if epilogue is not None:
            await epilogue(ctx)
        for sig in observe:
            final[sig.name] = ctx.get(sig)

    run_testbench(dut, bench, vcd)
    return got, final
