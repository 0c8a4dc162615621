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

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.engine_protocol import Op
from zoforge.golden.engine_sessions import random_session
from zoforge.golden.link import END, FrameDecoder, LinkModel, LinkSpec, frame
from zoforge.golden.spec import parse
from zoforge.sim.link_check import LinkBench, run_session

SMALL = "engine:rng=pezo-pool-x2,words=64,max_cols=16"


class Bench(LinkBench):
    """The shared bench, failing at the first answer that is not the golden link's."""

    def send(self, wire: bytes, what: str = "") -> bytes:
        got = super().send(wire, what)
        assert not self.differences, self.differences[0]
        return got

    def finish(self):
        c = super().finish()
        assert not self.differences, self.differences
        return c


def check_session(engine_spec, link_spec, seed, *, commands=20, max_words=16, prob=1.0):
    """One random session with damaged frames, lost answers (retries), cut commands (the watchdog),
    older frames replayed, seqs reused for another command, hellos; each of those really happened."""
    bench = Bench(engine_spec, link_spec, prob, seed)
    run_session(bench, np.random.default_rng(seed), commands=commands, max_words=max_words)
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
    check_session(parse("engine-s"), LinkSpec(cmd_bytes=512, rsp_bytes=512), seed=1 if prob == 1 else 2,
                  commands=40, max_words=48, prob=prob)


@pytest.mark.parametrize("seed", [3, 4])
def test_small_buffers_drop_long_commands_and_cut_long_responses(seed):
    """cmd_bytes=64 drops the session's first LOAD (20 words) as oversize; rsp_bytes=64 cuts the
    final read-back (1 + 80 bytes)."""
    spec = parse(SMALL)
    link = LinkSpec(cmd_bytes=64, rsp_bytes=64)
    assert len(P.read(spec, 0, 20)) <= link.max_command < len(P.load(spec, 0, np.zeros((20, 2), int)))
    check_session(spec, link, seed, commands=16, max_words=20, prob=0.7)


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
