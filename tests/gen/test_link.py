# amaranth: UnusedElaboratable=no
"""The board link gateware in front of the real engine sends exactly the golden LinkModel's bytes on
random engine sessions whose frames are damaged on the way: bit flips, truncated frames, bad
escapes, oversize frames, empty frames, noise, retries (answered from the kept copy, not executed
again: the engine's STATUS counters equal the golden ones), a reused seq with a new command and
older frames replayed (refused), hellos, bodies that end inside a command or announce more data than
they carry (abandoned by the watchdog), and responses longer than the response buffer. Its
executed/dropped/refused/abandoned pulses count what the model counts. Frames that arrive while the
link is busy are dropped (the model has no such case)."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from zoforge.gen.engine import Engine
from zoforge.gen.link import Link
from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.engine_protocol import Op
from zoforge.golden.engine_sessions import random_session
from zoforge.golden.link import END, ESC, FrameDecoder, LinkModel, LinkSpec, frame
from zoforge.golden.spec import parse
from zoforge.sim.bytestream import ByteStreamSim

SMALL = "engine:rng=pezo-pool-x2,words=64,max_cols=16"
COUNTED = ("executed", "dropped", "refused", "abandoned")


class LinkedEngine(wiring.Component):
    """Link + Engine with the link's UART-side streams as ports; counts the status pulses."""

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


class Bench:
    """The gateware and the golden link side by side; ``send`` feeds both the same wire bytes and
    checks that the gateware answers with the model's bytes."""

    def __init__(self, engine_spec, link_spec, prob=1.0, seed=0):
        self.model = LinkModel(EngineModel(engine_spec), link_spec)
        self.dut = LinkedEngine(engine_spec, link_spec)
        self.sim = ByteStreamSim(self.dut, sink="rx", source="tx", valid_prob=prob, ready_prob=prob, rng_seed=seed)
        self.counts = dict.fromkeys(COUNTED, 0)

        async def watch(ctx):
            async for values in ctx.changed(*(getattr(self.dut, name) for name in COUNTED)):
                self.counts = dict(zip(COUNTED, values))
        self.sim.sim.add_testbench(watch, background=True)

    def send(self, wire: bytes, what: str = "") -> bytes:
        expected = self.model.feed(wire)
        got = self.sim.exchange(wire, lambda rx: len(rx) >= len(expected), max_cycles=200_000)
        assert got == expected, f"{what}: sent {wire[:24].hex()}... expected {expected[:40].hex()} got {got[:40].hex()}"
        return got

    def finish(self):
        self.sim.run(200)                    # nothing more comes out, every byte was taken
        assert self.sim.exchange(b"", lambda rx: True) == b"" and self.sim.pending == 0
        c = self.model.counters
        assert self.counts == {"executed": c.frames, "dropped": c.dropped, "refused": c.refused,
                               "abandoned": c.abandoned}
        return c


def damaged(kind: str, wire: bytes, rng, link_spec) -> bytes:
    """One damaged transmission (the host then sends ``wire`` again)."""
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
    raise ValueError(kind)


KINDS = ["flip", "truncated", "bad_escape", "oversize", "empty", "noise", "short"]


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


def run_session(engine_spec, link_spec, seed, *, commands=20, max_words=16, prob=1.0):
    """A random session with damaged frames, lost answers (retries), cut commands (the watchdog),
    older frames replayed, seqs reused for another command, hellos."""
    rng = np.random.default_rng(seed)
    bench = Bench(engine_spec, link_spec, prob, seed)
    cmds = random_session(engine_spec, rng, commands, max_words) + [bytes([Op.STATUS])]
    seq, sent = int(rng.integers(256)), []
    for i, cmd in enumerate(cmds):
        roll = rng.random()
        if roll < 0.1 and i:
            bench.send(frame(seq - 1 & 0xFF, cmd), f"command {i} reusing a seq")     # refused
        elif roll < 0.2 and sent:
            old = sent[int(rng.integers(len(sent)))]
            bench.send(old, f"an older frame before command {i}")                      # refused (or a retry)
        elif roll < 0.25:
            bench.send(frame(int(rng.integers(256)), b""), "hello")
        if rng.random() < 0.12:
            wire = frame(seq, cut_command(engine_spec, rng))
            bench.send(wire, f"cut command before {i}")                               # abandoned
            sent.append(wire)
            seq = (seq + 1) & 0xFF
        wire = frame(seq, cmd)
        if roll < 0.5:
            kind = KINDS[int(rng.integers(len(KINDS)))]
            bench.send(damaged(kind, wire, rng, link_spec), f"command {i} {kind}")
        bench.send(wire, f"command {i}")
        if rng.random() < 0.25:
            bench.send(wire, f"command {i} retry")             # the answer was lost: the same frame again
        sent.append(wire)
        seq = (seq + 1) & 0xFF
    c = bench.finish()
    assert c.retries > 0 and c.dropped > 0 and c.refused > 0 and c.abandoned > 0
    return bench


def test_buffer_limits_are_exact():
    """A body of n PINGs (n commands in one frame) answers n status bytes: the longest command frame
    is taken and one byte more is dropped; a response of rsp_bytes is whole and one byte more is cut."""
    link = LinkSpec(cmd_bytes=128, rsp_bytes=64)
    bench = Bench(parse(SMALL), link)
    for seq, n in zip([0, 1, 1, 2, 3], [link.max_command, link.max_command + 1, 64, 65, 63]):
        bench.send(frame(seq, bytes([Op.PING]) * n), f"{n} PINGs")      # the dropped frame's seq is used again
    c = bench.finish()
    assert (c.frames, c.dropped) == (4, 1)


def test_long_response_is_cut_at_rsp_bytes():
    spec = parse(SMALL)
    read = P.read(spec, 0, 20)
    full = EngineModel(spec).transact(read)
    assert len(full) == 81
    bench = Bench(spec, LinkSpec(cmd_bytes=64, rsp_bytes=64), prob=0.8)
    assert bench.send(frame(5, read)) == frame(5, full[:64])
    assert bench.send(frame(5, read)) == frame(5, full[:64])      # and the cut copy is what a retry gets
    bench.finish()


@pytest.mark.parametrize("prob", [1.0, 0.5])
def test_engine_s_sessions_equal_golden(prob):
    run_session(parse("engine-s"), LinkSpec(cmd_bytes=512, rsp_bytes=512), seed=1 if prob == 1 else 2,
                commands=40, max_words=48, prob=prob)


@pytest.mark.parametrize("seed", [3, 4])
def test_small_buffers_drop_long_commands_and_cut_long_responses(seed):
    """cmd_bytes=64 drops the session's first LOAD (20 words) as oversize; rsp_bytes=64 cuts the
    final read-back (1 + 80 bytes)."""
    spec = parse(SMALL)
    link = LinkSpec(cmd_bytes=64, rsp_bytes=64)
    assert len(P.read(spec, 0, 20)) <= link.max_command < len(P.load(spec, 0, np.zeros((20, 2), int)))
    run_session(spec, link, seed, commands=16, max_words=20, prob=0.7)


def test_retry_is_answered_from_the_copy_not_executed_again():
    spec = parse(SMALL)
    bench = Bench(spec, LinkSpec(cmd_bytes=128, rsp_bytes=64))
    bench.send(frame(0, bytes([Op.PING])))
    status = frame(1, bytes([Op.STATUS]))
    first = bench.send(status)
    assert bench.send(status) == first                   # counters unchanged: not run again
    assert bench.send(frame(1, bytes([Op.PING]))) != first   # the same seq with another command: refused
    after = bench.send(frame(2, bytes([Op.STATUS])))
    assert after[3] == 3                                   # commands: PING, STATUS, STATUS (LE u32)
    bench.finish()


def test_frames_arriving_while_busy_are_dropped():
    spec = parse(SMALL)
    link = LinkSpec(cmd_bytes=128, rsp_bytes=128)
    golden = LinkModel(EngineModel(spec), link)
    bench = Bench(spec, link)
    read, ping = frame(7, P.read(spec, 0, 16)), frame(8, bytes([Op.PING]))
    # The read's answer (67 bytes) takes longer than the ping takes to arrive: the ping is lost.
    got = bench.sim.exchange(read + ping, lambda rx: len(rx) >= 2 and rx[-1] == END, max_cycles=10_000)
    assert got == golden.feed(read)
    bench.sim.run(50)
    assert bench.counts == {"executed": 1, "dropped": 1, "refused": 0, "abandoned": 0}
    assert bench.sim.exchange(b"", lambda rx: True) == b""
    # An opening END that arrives while busy is harmless: the rest of the frame is received after.
    got = bench.sim.exchange(read + bytes([END]), lambda rx: len(rx) >= 2 and rx[-1] == END, max_cycles=10_000)
    assert got == golden.feed(read)                        # a retry of the read: the same answer
    got = bench.sim.exchange(ping[1:], lambda rx: len(rx) >= 2 and rx[-1] == END, max_cycles=10_000)
    assert got == golden.feed(ping)
    bench.sim.run(50)
    assert bench.counts == {"executed": 2, "dropped": 1, "refused": 0, "abandoned": 0}


def _cut(kind: str, spec, rng, words) -> bytes:
    """A body that ends inside a command (its CRC is intact)."""
    return {"seed": P.seed(spec, 12345)[:4],                                   # 3 of SEED's 8 argument bytes
            "forward": P.forward(spec, 0, 2, rng.integers(-5, 5, (3, 8)))[:-5],  # fewer columns than announced
            "load": P.load(spec, 0, -words)[:-3],                              # a LOAD 3 bytes short: nothing written
            "args": P.update(spec, 1, 4)[:2]}[kind]


@pytest.mark.parametrize("kind", ["seed", "forward", "load", "args"])
def test_a_frame_ending_inside_a_command_does_not_hang_the_board(kind):
    """The gateware answers the cut frame after its watchdog (TIMEOUT), the weights are untouched, and
    the next frames run normally: no reset needed. Before the watchdog it waited for the rest forever."""
    spec = parse(SMALL)
    bench = Bench(spec, LinkSpec(cmd_bytes=128, rsp_bytes=128))
    rng = np.random.default_rng(1)
    words = rng.integers(-100, 100, (8, spec.lanes))
    bench.send(frame(0, P.load(spec, 0, words)))
    cut = frame(1, _cut(kind, spec, rng, words))
    got = bench.sim.exchange(cut, lambda rx: rx.count(END) >= 2, max_cycles=20_000)   # StallError when hung
    assert got == bench.model.feed(cut)
    bench.send(frame(2, bytes([Op.PING])))
    assert bench.send(frame(3, P.read(spec, 0, 8))) == frame(3, bytes([P.Code.OK]) + P.to_bytes(words, spec.w_bytes))
    for i, cmd in enumerate(random_session(spec, rng, 10, 8)):
        bench.send(frame(4 + i, cmd), f"command {i} after the cut frame")
    c = bench.finish()
    assert c.abandoned == 1


def test_an_older_frame_replayed_after_a_newer_one_is_not_executed():
    """UPDATE seq n, PING seq n+1, UPDATE seq n again: the gateware refuses the replay (before, it ran
    the UPDATE a second time: the command counter said 4 and the weights moved twice)."""
    spec = parse(SMALL)
    bench = Bench(spec, LinkSpec(cmd_bytes=128, rsp_bytes=128))
    update = frame(5, P.update(spec, 3, 8))
    bench.send(update)
    bench.send(frame(6, bytes([Op.PING])))
    bench.send(update, "replayed UPDATE")
    rsp = FrameDecoder().feed(bench.send(frame(7, bytes([Op.STATUS]))))[0]
    assert P.decode_status(rsp[2:-2])["commands"] == 3          # UPDATE, PING, STATUS: the replay did not run
    c = bench.finish()
    assert c.refused == 1
