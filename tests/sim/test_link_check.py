"""The link check: the link gateware in front of the engine equals the golden link on sessions with
damaged frames, including later sessions that open with a hello; a link built with a smaller response
buffer than its spec says is caught, with the answer that differs."""

import numpy as np

from zoforge.gen.link import Link
from zoforge.golden.engine_protocol import Op
from zoforge.golden.link import LinkSpec, frame
from zoforge.golden.spec import parse
from zoforge.sim import link_check
from zoforge.sim.link_check import LinkBench, check_link, max_words_for

SMALL = "engine:rng=pezo-pool-x2,words=64,max_cols=16"


def test_sessions_one_after_the_other_equal_golden():
    result = check_link(LinkSpec(cmd_bytes=128, rsp_bytes=128), parse(SMALL), sessions=2, commands=8, seed=3)
    assert result.ok, result.differences
    c = result.counters
    assert result.frames > 16 and c.frames >= 16 and c.refused >= 1      # a hello opens the second session
    assert result.response_bytes > 0 and result.cycles > 0


def test_a_hello_tells_the_next_seq():
    bench = LinkBench(parse(SMALL), LinkSpec(cmd_bytes=128, rsp_bytes=128))
    bench.send(frame(41, bytes([Op.PING])), "ping")
    assert bench.hello(7) == 42
    bench.finish()
    assert bench.differences == [] and bench.model.counters.refused == 1


def test_a_link_with_a_smaller_response_buffer_is_caught(monkeypatch):
    spec = LinkSpec(cmd_bytes=512, rsp_bytes=512)
    assert max_words_for(parse("engine-s"), spec) * 4 > 64           # reads longer than 64 bytes are drawn
    monkeypatch.setattr(link_check, "Link", lambda s: Link(s.replace(rsp_bytes=64)))
    result = check_link(spec, parse("engine-s"), commands=20, seed=1, backpressure=0.0)
    assert not result.ok
    assert "answer byte" in result.differences[0] and "expected" in result.differences[0]


def test_damaged_kinds_are_what_they_say():
    rng = np.random.default_rng(0)
    wire = bytes([0xC0, 1, 2, 3, 4, 5, 0xC0])
    link = LinkSpec()
    assert link_check.damaged("empty", wire, rng, link) == bytes([0xC0] * 3)
    assert len(link_check.damaged("oversize", wire, rng, link)) > link.cmd_bytes
    assert link_check.damaged("truncated", wire, rng, link)[-1] == 0xC0
