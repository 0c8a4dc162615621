"""The blocks that take input streams (the MAC array, the perturbation unit, the update unit) against
their golden models, word by word, on random valid input streams.

A :class:`Stimulus` is plain data, so every simulator plays the same one: the payloads of each input
stream, the side signals sampled with each transfer (the perturbation scale ``s``, the update's
``c`` and ``decay_en``), a payload offered on one stream before the others start (the update's LFSR
reseed), and the golden model's output words. :func:`stimulus_for` draws random valid streams of a
given number of output words for any of the three kinds; :func:`mac_stimulus`,
:func:`perturb_stimulus` and :func:`update_stimulus` build one from given inputs (a test's matmul
schedule, its chosen scales). :func:`run_pysim` plays a stimulus in Amaranth's simulator,
:func:`compare` names the first differing words, and :func:`check_block` does all three for
``zoforge sim``.

Members: :data:`KINDS`, :class:`Stimulus`, :class:`BlockCheck`, :func:`random_codes`,
:func:`stimulus_for`, :func:`mac_stimulus`, :func:`perturb_stimulus`, :func:`update_stimulus`,
:func:`stimulus_bytes`, :func:`run_pysim`, :func:`compare`, :func:`check_block`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..golden.perturb import SCALES
from .stream_bench import pack_rows, run_streams, unpack_rows

__all__ = ["KINDS", "Stimulus", "BlockCheck", "random_codes", "stimulus_for", "mac_stimulus", "perturb_stimulus",
           "update_stimulus", "stimulus_bytes", "run_pysim", "compare", "check_block"]

KINDS = ("mac", "perturb", "update")
MAX_REDUCTION_BEATS = 8         # random MAC reductions take 1 .. this many beats (within max_len)


@dataclasses.dataclass
class Stimulus:
    """One run's inputs and the golden outputs.

    sources   input stream name -> flat payloads (:func:`~zoforge.sim.stream_bench.pack_rows`)
    side      (port, source stream, one value per payload of that stream)
    preload   (stream, payload) transferred before the sources start, or None
    sink      the output stream; ``fields`` unpack its payload: (name, count, bits, signed)
    expected  field name -> golden words (words, count)
    counter   (port, golden value at the end), or None
    """
    spec: object
    sources: dict[str, list[int]]
    side: list[tuple[str, str, list[int]]]
    sink: str
    fields: list[tuple[str, int, int, bool]]
    expected: dict[str, np.ndarray]
    preload: tuple[str, int] | None = None
    counter: tuple[str, int] | None = None

    @property
    def words(self) -> int:
        return len(next(iter(self.expected.values())))

    @property
    def numbers(self) -> int:
        """Numbers compared: the first field's (the block's result; the flags ride along)."""
        return int(next(iter(self.expected.values())).size)


@dataclasses.dataclass
class BlockCheck:
    what: str                   # the spec
    simulator: str
    words: int
    numbers: int
    seconds: float
    differences: list[str]
    waves: str | None = None

    @property
    def ok(self) -> bool:
        return not self.differences


def random_codes(rng, fmt, shape) -> np.ndarray:
    """Codes drawn uniformly over the whole range of the fixed-point format ``fmt``."""
    return rng.integers(fmt.min_code, fmt.max_code + 1, size=shape)


# ---- stimuli -----------------------------------------------------------------------------------------

def mac_stimulus(spec, row_beats, bcast_beats, last) -> Stimulus:
    """The MAC array fed ``row_beats`` (B, rows, lanes) and ``bcast_beats`` (B, lanes) with ``last``
    marking the end of each reduction (see :func:`zoforge.golden.mac.schedule`)."""
    expected = spec.golden(row_beats, bcast_beats, last)
    sources = {"row": pack_rows((np.asarray(row_beats).reshape(len(row_beats), -1), spec.row_bits)),
               "bcast": pack_rows((bcast_beats, spec.bcast_bits), (np.asarray(last, dtype=np.int64), 1))}
    return Stimulus(spec, sources, [], "o", [("o", spec.rows, spec.acc_bits, True)], {"o": expected})


def _weight_fields(spec):
    return [("w", spec.lanes, spec.w_bits, True), ("sat", spec.lanes, 1, False)]


def _counted(spec, flags) -> tuple[str, int]:
    return "sat_count", min(int(np.sum(flags)), (1 << spec.count_bits) - 1)


def perturb_stimulus(spec, w, z, s) -> Stimulus:
    """The perturbation unit on weight words ``w`` and perturbations ``z`` (beats, lanes), scale
    ``s[i]`` with word ``i``."""
    w_out, sat = spec.golden(w, z, s)
    return Stimulus(spec, {"w_in": pack_rows((w, spec.w_bits)), "z": pack_rows((z, spec.z_bits))},
                    [("s", "w_in", [int(v) for v in s])], "w_out", _weight_fields(spec),
                    {"w": w_out, "sat": sat.astype(np.int64)}, counter=_counted(spec, sat))


def update_stimulus(spec, w, z, c, decay_en, reseed: int | None = None) -> Stimulus:
    """The update unit on ``w``, ``z`` (beats, lanes) with scalar ``c[i]`` and ``decay_en[i]`` per
    word; ``reseed`` loads that LFSR seed through the ``seed`` stream first."""
    w_out, sat = spec.golden(w, z, c, decay_en=decay_en, seed=reseed)
    preload = None
    if reseed is not None:
        preload = ("seed", pack_rows(([spec.seed_vector(reseed)], spec.rng_width))[0])
    return Stimulus(spec, {"w_in": pack_rows((w, spec.w_bits)), "z": pack_rows((z, spec.z_bits))},
                    [("c", "w_in", [int(v) for v in c]), ("decay_en", "w_in", [int(v) for v in decay_en])],
                    "w_out", _weight_fields(spec), {"w": w_out, "sat": sat.astype(np.int64)},
                    preload=preload, counter=_counted(spec, sat))


def stimulus_for(spec, words: int, rng) -> Stimulus:
    """Random valid input streams that make ``words`` output words: codes over the formats' whole
    range; MAC reductions of 1 .. 8 beats (never past ``max_len``), scales drawn from {+1, -1, -2, 0},
    update scalars and decay enables per word, and a runtime reseed when the update rounds
    stochastically."""
    kind = spec.KIND
    if kind == "mac":
        longest = max(1, min(MAX_REDUCTION_BEATS, spec.max_len // spec.lanes))
        ends = np.cumsum(rng.integers(1, longest + 1, size=words)) - 1
        last = np.zeros(ends[-1] + 1, dtype=bool)
        last[ends] = True
        return mac_stimulus(spec, random_codes(rng, spec.row_format, (len(last), spec.rows, spec.lanes)),
                            random_codes(rng, spec.bcast_format, (len(last), spec.lanes)), last)
    if kind not in KINDS:
        raise ValueError(f"block check: kind {kind!r} takes no input streams; kind must be one of {'|'.join(KINDS)}")
    w = random_codes(rng, spec.w_format, (words, spec.lanes))
    z = random_codes(rng, spec.z_format, (words, spec.lanes))
    if kind == "perturb":
        return perturb_stimulus(spec, w, z, rng.choice(SCALES, size=words))
    reseed = int(rng.integers(1, 1 << spec.rng_width)) if spec.stochastic else None
    return update_stimulus(spec, w, z, random_codes(rng, spec.c_format, words), rng.integers(0, 2, words), reseed)


def stimulus_bytes(spec, words: int) -> int:
    """About the memory :func:`check_block` needs for ``words`` output words: the input codes, their
    packed payloads (Python ints), the golden and the simulated words."""
    if spec.KIND == "mac":
        beats = words * (max(1, min(MAX_REDUCTION_BEATS, spec.max_len // spec.lanes)) + 1) / 2
        return int(beats * (16 * (spec.rows + 1) * spec.lanes + 200) + words * 24 * spec.rows)
    return int(words * (64 * spec.lanes + 300))


# ---- running and comparing ---------------------------------------------------------------------------

def run_pysim(stim: Stimulus, *, dut=None, valid_prob: float = 0.75, ready_prob: float = 0.75, rng_seed: int = 0,
              vcd: str | None = None, stall_cycles: int = 100_000, ticker=None) -> tuple[dict[str, np.ndarray],
                                                                                      dict[str, int]]:
    """Play ``stim`` in Amaranth's simulator (on ``dut``, default the spec's gateware). Returns the
    output fields (as in ``stim.expected``; fewer words when no word came for ``stall_cycles``
    cycles) and the counter's final value (``{}`` without one, or after a stall). ``ticker(text)``, if
    given, hears of every word (a :class:`~zoforge.sim.cocotb_sessions.Ticker` prints now and then)."""
    from .bytestream import StallError
    dut = stim.spec.create() if dut is None else dut

    async def preload(ctx):
        stream, payload = getattr(dut, stim.preload[0]), stim.preload[1]
        ctx.set(stream.payload.as_value(), payload)
        ctx.set(stream.valid, 1)
        await ctx.tick().until(stream.ready)
        ctx.set(stream.valid, 0)

    counter = [getattr(dut, stim.counter[0])] if stim.counter else []
    progress = (lambda _, i, __: ticker(f"pysim: {i + 1}/{stim.words} words")) if ticker else None
    try:
        got, final = run_streams(dut, stim.sources, {stim.sink: stim.words},
                                 side=[(getattr(dut, port), source, values) for port, source, values in stim.side],
                                 prologue=preload if stim.preload else None, observe=counter, rng_seed=rng_seed,
                                 valid_prob=valid_prob, ready_prob=ready_prob, vcd=vcd, stall_cycles=stall_cycles,
                                 on_out=progress)
    except StallError as e:
        got, final = e.received, {}
    arrays = unpack_rows(got[stim.sink], *[f[1:] for f in stim.fields])
    return dict(zip([f[0] for f in stim.fields], arrays)), final


def compare(stim: Stimulus, got: dict[str, np.ndarray], final: dict[str, int], limit: int = 10) -> list[str]:
    """The first ``limit`` differences, one line each: a word's field and lane, a missing word, or the
    counter's final value."""
    words = stim.words
    have = min(min(len(v) for v in got.values()), words) if got else 0
    found = []                                   # (word, field, lane) of every differing number, in order
    for f, (name, expected) in enumerate(stim.expected.items()):
        for i, lane in np.argwhere(expected[:have] != got[name][:have])[:limit]:
            found.append((int(i), f, int(lane)))
    out = []
    for i, f, lane in sorted(found)[:limit]:
        name, expected = list(stim.expected.items())[f]
        label = f"{name}[{lane}]" if expected.shape[1] > 1 else name
        out.append(f"word {i} {label}: expected {int(expected[i, lane])}, got {int(got[name][i, lane])}")
    if have < words and len(out) < limit:
        out.append(f"words {have} .. {words - 1}: missing (the block stopped after {have} of {words} words)")
    if stim.counter and len(out) < limit:
        port, value = stim.counter
        if final.get(port) != value:
            out.append(f"{port} after the last word: expected {value}, got {final.get(port, 'nothing')}")
    return out


def check_block(spec, words: int, simulator: str = "pysim", *, seed: int = 1, backpressure: float = 0.25,
                waves: str | None = None, ticker=None) -> BlockCheck:
    """``words`` output words of random valid streams (drawn from ``seed``) through the gateware, each
    compared with the golden model. ``backpressure``: the probability that the consumer stalls in a
    cycle, and that each producer pauses."""
    stim = stimulus_for(spec, words, np.random.default_rng(seed))
    prob = 1.0 - backpressure
    t0 = time.perf_counter()
    if simulator == "pysim":
        got, final = run_pysim(stim, valid_prob=prob, ready_prob=prob, rng_seed=seed, vcd=waves, ticker=ticker)
    else:
        from .cocotb_streams import run_cocotb_streams
        got, final = run_cocotb_streams(stim, simulator, valid_prob=prob, ready_prob=prob, rng_seed=seed)
    return BlockCheck(str(spec), simulator, stim.words, stim.numbers, time.perf_counter() - t0,
                      compare(stim, got, final), waves)
