"""The board link gateware in front of the real engine against the golden link
(:class:`~zoforge.golden.link.LinkModel` before :class:`~zoforge.golden.engine_model.EngineModel`), on
random engine sessions whose frames are damaged on the way, in Amaranth's simulator.

A session (:func:`run_session`) sends random engine commands (:func:`~zoforge.golden.engine_sessions.random_session`)
one frame at a time and mixes in what a noisy UART and a host that times out produce: damaged
transmissions (:data:`DAMAGE`: bit flips, truncated frames, bad escapes, oversize frames, empty
frames, noise, short frames), each followed by the intact frame; retries of a frame whose answer was
lost (answered from the kept copy, not executed again); a seq reused for another command and older
frames replayed (refused); hellos; and frames whose body ends inside a command (:func:`cut_command`,
abandoned by the watchdog). Every answer is compared with the golden link's bytes, and at the end
the gateware's executed/dropped/refused/abandoned pulses with the golden counters.

Members: :class:`LinkedEngine` (link + engine, the link's UART-side streams as ports),
:class:`LinkBench` (gateware and golden link side by side), :func:`damaged`, :data:`DAMAGE`,
:func:`cut_command`, :func:`run_session`, :class:`LinkCheck`, :func:`check_link`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..gen.engine import Engine
from ..gen.link import Link
from ..golden import engine_protocol as P
from ..golden.engine_model import EngineModel
from ..golden.engine_protocol import Op
from ..golden.engine_sessions import random_session
from ..golden.link import END, ESC, FrameDecoder, LinkModel, decode_notice, frame
from .bytestream import ByteStreamSim, StallError

__all__ = ["LinkedEngine", "LinkBench", "damaged", "DAMAGE", "cut_command", "run_session", "LinkCheck",
           "check_link", "COUNTED"]

COUNTED = ("executed", "dropped", "refused", "abandoned")
DAMAGE = ("flip", "truncated", "bad_escape", "oversize", "empty", "noise", "short")
ANSWER_CYCLES = 200_000         # no whole answer to a frame after this many cycles (+ the watchdog): stuck


class LinkedEngine(wiring.Component):
    """Link + Engine with the link's UART-side streams as ports; counts the link's status pulses."""

    def __init__(self, engine_spec, link_spec):
        self.engine_spec, self.link_spec = engine_spec, link_spec
        super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
                          "executed": Out(16), "dropped": Out(16), "refused": Out(16), "abandoned": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = Link(self.link_spec)
        m.submodules.engine = engine = Engine(self.engine_spec)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        wiring.connect(m, link.cmd, engine.cmd)
        wiring.connect(m, engine.rsp, link.rsp)
        m.d.comb += [link.engine_idle.eq(engine.idle), link.engine_waiting.eq(engine.waiting),
                     engine.abort.eq(link.engine_abort), engine.cmd_left.eq(link.cmd_left)]
        for name in COUNTED:
            with m.If(getattr(link, name)):
                m.d.sync += getattr(self, name).eq(getattr(self, name) + 1)
        return m


class LinkBench:
    """The gateware and the golden link side by side: :meth:`send` feeds both the same wire bytes and
    records a difference when the gateware's answer is not the model's; after a stall, nothing more
    is sent (``stalled``)."""

    def __init__(self, engine_spec, link_spec, prob: float = 1.0, seed: int = 0, vcd: str | None = None):
        self.engine_spec, self.link_spec = engine_spec, link_spec
        self.model = LinkModel(EngineModel(engine_spec), link_spec)
        self.dut = LinkedEngine(engine_spec, link_spec)
        self.sim = ByteStreamSim(self.dut, sink="rx", source="tx", valid_prob=prob, ready_prob=prob, rng_seed=seed,
                                 vcd=vcd)
        self.counts = dict.fromkeys(COUNTED, 0)
        self.differences: list[str] = []
        self.frames = self.response_bytes = 0
        self.stalled = False

        async def watch(ctx):
            async for values in ctx.changed(*(getattr(self.dut, name) for name in COUNTED)):
                self.counts = dict(zip(COUNTED, values))
        self.sim.sim.add_testbench(watch, background=True)

    def send(self, wire: bytes, what: str = "") -> bytes:
        """Send ``wire``; return the gateware's answer (once it is as long as the model's)."""
        if self.stalled:
            return b""
        expected = self.model.feed(wire)
        self.frames += 1
        self.response_bytes += len(expected)
        ends = expected.count(END)             # an answer is whole at its last frame's closing END, long or short
        try:
            got = self.sim.exchange(wire, lambda rx: len(rx) >= len(expected) or (ends and rx.count(END) >= ends),
                                    max_cycles=ANSWER_CYCLES + self.link_spec.watchdog)
        except StallError as e:
            self.stalled = True
            self.differences.append(f"{what}: {e}; expected {len(expected)} bytes {expected[:24].hex(' ')}")
            return b""
        if got != expected:
            k = next((j for j, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
            sent = wire[:12].hex(" ") + (" ..." if len(wire) > 12 else "")
            self.differences.append(f"{what} (sent {sent}): answer byte {k} of {len(expected)}: expected "
                                    f"{_hex(expected[k:k + 8])}, got {_hex(got[k:k + 8])}")
        return got

    def hello(self, seq: int) -> int:
        """Open a session as the host does: a hello, answered with the notice; returns the next seq."""
        answer = self.send(frame(seq, b""), "hello")
        frames = [f for f in FrameDecoder().feed(answer) if f]
        info = decode_notice(frames[0][1:-2]) if frames else None
        return (info["last_seq"] + 1) & 0xFF if info else seq

    def finish(self):
        """Run on, check that nothing more comes out and every byte was taken, compare the pulse
        counts with the golden counters; returns the golden counters."""
        c = self.model.counters
        if not self.stalled:
            self.sim.run(200)
            extra = self.sim.exchange(b"", lambda rx: True)
            if extra:
                self.differences.append(f"after the last frame: {len(extra)} extra bytes {extra[:16].hex(' ')}")
            if self.sim.pending:
                self.differences.append(f"after the last frame: {self.sim.pending} sent bytes never taken")
            want = {"executed": c.frames, "dropped": c.dropped, "refused": c.refused, "abandoned": c.abandoned}
            if self.counts != want:
                self.differences.append(f"link pulses: expected {want}, counted {self.counts}")
        self.sim.close()
        return c


def _hex(data: bytes) -> str:
    return data.hex(" ") or "(nothing)"


def damaged(kind: str, wire: bytes, rng, link_spec) -> bytes:
    """One damaged transmission of ``wire`` (the host then sends ``wire`` again)."""
    inner = int(rng.integers(1, len(wire) - 1))              # a position between the two ENDs
    if kind == "flip":
        out = bytearray(wire)
        out[int(rng.integers(0, len(wire)))] ^= 1 << int(rng.integers(8))
        return bytes(out)
    if kind == "truncated":
        return wire[:inner] + bytes([END])
    if kind == "bad_escape":
        return wire[:inner] + bytes([ESC, int(rng.choice([0x00, 0x41, ESC, 0xFF]))]) + wire[inner:]
    if kind == "oversize":                                   # CRC intact, one byte too long
        return frame(wire[1] if wire[1] != ESC else 0, bytes(rng.integers(0, 256, link_spec.max_command + 1,
                                                                          dtype=np.uint8)))
    if kind == "empty":
        return bytes([END, END, END])
    if kind == "noise":                                      # bytes before the opening END
        return bytes(rng.integers(1, 0xC0, int(rng.integers(1, 6)), dtype=np.uint8))
    if kind == "short":
        return frame(0, b"")[:-3] + bytes([END])              # seq and one CRC byte
    raise ValueError(f"damaged: kind={kind!r} must be one of {'|'.join(DAMAGE)}")


def cut_command(spec, rng) -> bytes:
    """A command whose frame ends inside it: arguments cut, data cut, or a LOAD/FORWARD announcing
    more than it carries."""
    kind = int(rng.integers(4))
    if kind == 0:                                            # arguments cut
        op = int(rng.choice([Op.SEED, Op.UPDATE, Op.FORWARD, Op.LOAD, Op.READ]))
        return P.encode(spec, op, **{n: 1 for n, _, _ in P.arg_fields(spec, op)})[:int(rng.integers(1, 3))]
    if kind == 1:                                            # LOAD announcing more words than it carries
        words = rng.integers(-50, 50, (int(rng.integers(1, 4)), spec.lanes))
        return P.encode(spec, Op.LOAD, addr=0, count=len(words) + int(rng.integers(1, 40))) + \
            P.to_bytes(words, spec.w_bytes)
    X = rng.integers(-5, 5, (int(rng.integers(1, 3)), int(rng.integers(1, spec.max_cols + 1))))
    rows = int(rng.integers(1, 3))
    if kind == 2:                                            # FORWARD with fewer columns than announced
        return P.forward(spec, 0, rows, X)[:-int(rng.integers(1, X.size * spec.a_bytes + 1))]
    rows = int(rng.choice([rows, 9999]))                     # more vectors announced; rows 9999: bad arguments
    return P.encode(spec, Op.FORWARD, base=0, rows=rows, cols=X.shape[1], n=len(X) + 1) + P.to_bytes(X, spec.a_bytes)


def run_session(bench: LinkBench, rng, *, commands: int = 20, max_words: int = 16, seq: int | None = None) -> int:
    """One random session on ``bench`` (see the module docstring), starting at ``seq`` (default: a
    random one); returns the seq after the session's last frame."""
    spec, link_spec = bench.engine_spec, bench.link_spec
    cmds = random_session(spec, rng, commands, max_words) + [bytes([Op.STATUS])]
    seq = int(rng.integers(256)) if seq is None else seq
    sent = []
    for i, cmd in enumerate(cmds):
        if bench.stalled:
            break
        roll = rng.random()
        if roll < 0.1 and i:
            bench.send(frame(seq - 1 & 0xFF, cmd), f"command {i} reusing a seq")     # refused
        elif roll < 0.2 and sent:
            old = sent[int(rng.integers(len(sent)))]
            bench.send(old, f"an older frame before command {i}")                      # refused (or a retry)
        elif roll < 0.25:
            bench.send(frame(int(rng.integers(256)), b""), "hello")
        if rng.random() < 0.12:
            wire = frame(seq, cut_command(spec, rng))
            bench.send(wire, f"cut command before {i}")                               # abandoned
            sent.append(wire)
            seq = (seq + 1) & 0xFF
        wire = frame(seq, cmd)
        if roll < 0.5:
            kind = DAMAGE[int(rng.integers(len(DAMAGE)))]
            bench.send(damaged(kind, wire, rng, link_spec), f"command {i} {kind}")
        bench.send(wire, f"command {i}")
        if rng.random() < 0.25:
            bench.send(wire, f"command {i} retry")             # the answer was lost: the same frame again
        sent.append(wire)
        seq = (seq + 1) & 0xFF
    return seq


@dataclasses.dataclass
class LinkCheck:
    what: str                   # "link:... in front of engine:..."
    simulator: str
    sessions: int
    frames: int                 # frames sent, damaged ones included
    response_bytes: int
    counters: object            # the golden link's LinkCounters
    cycles: int
    seconds: float
    differences: list[str]
    waves: str | None = None

    @property
    def ok(self) -> bool:
        return not self.differences


def max_words_for(engine_spec, link_spec, longest: int = 48) -> int:
    """Weight words per LOAD/READ so that most commands and answers fit the link's buffers."""
    room = min(link_spec.max_command, link_spec.max_response) - 16
    return max(2, min(longest, room // (engine_spec.lanes * engine_spec.w_bytes)))


def check_link(link_spec, engine_spec, *, sessions: int = 1, commands: int = 30, seed: int = 1,
               backpressure: float = 0.25, waves: str | None = None, ticker=None) -> LinkCheck:
    """``sessions`` random sessions of ``commands`` engine commands each, one after the other on one
    simulated link (each later session opens with a hello, as the host does); ``backpressure``: the
    probability that the UART side pauses a byte in either direction."""
    prob = 1.0 - backpressure
    t0 = time.perf_counter()
    bench = LinkBench(engine_spec, link_spec, prob, seed, vcd=waves)
    max_words = max_words_for(engine_spec, link_spec)
    seq = None
    for k in range(sessions):
        if k:
            seq = bench.hello(seq)
        seq = run_session(bench, np.random.default_rng([seed, k]), commands=commands, max_words=max_words, seq=seq)
        if ticker:
            ticker(f"pysim: session {k + 1}/{sessions}, {bench.frames} frames, {bench.sim.cycles} cycles")
    counters = bench.finish()
    return LinkCheck(f"{link_spec} in front of {engine_spec}", "pysim", sessions, bench.frames, bench.response_bytes,
                     counters, bench.sim.cycles, time.perf_counter() - t0, bench.differences, waves)
