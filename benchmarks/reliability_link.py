"""The board link's hostile cases for ``benchmarks/reliability.py`` (class "link"), run in a subprocess
with the source tree under test first on the path. Only interfaces that every version has are used:
raw frames into the golden link model and into the board top in the simulator, and the host driver.

Each case prints one JSON row: traceback (an exception that is not a one-line LinkError/EngineError/
SpecMismatch), hang (the board answers nothing more: later PINGs lost until reset), lost (weights
changed by a command that should have done nothing), twice (a command applied twice), unclear (an
error that does not name the problem).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from zoforge.gen.board_top import BoardTop
from zoforge.golden import engine_protocol as P
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.link import END, FrameDecoder, LinkModel, LinkSpec, check_frame, frame
from zoforge.golden.spec import parse
from zoforge.sim.board_sim import BoardSim

SPEC = parse("engine:rng=pezo-pool-x2,words=64,max_cols=16")
LINK = LinkSpec(divisor=4, cmd_bytes=128, rsp_bytes=128)
CLOCK = 12_000_000
Op = P.Op


class Golden:
    def __init__(self):
        self.engine = EngineModel(SPEC)
        self.link = LinkModel(self.engine, LINK)

    def send(self, wire):
        return self.link.feed(wire)


class Gateware:
    def __init__(self):
        self.sim = BoardSim(BoardTop(SPEC, LINK, clock_hz=CLOCK), LINK.divisor)

    def send(self, wire, cycles=60_000):
        self.sim.write(wire)
        out = b""
        while out.count(END) < 2:
            got = self.sim.read_until(END, cycles)
            if not got:
                break
            out += got
        return out


def answers(wire):
    return [check_frame(raw) for raw in FrameDecoder().feed(wire) if raw]


def row(case, **kw):
    print(json.dumps({"class": "link", "case": case, **{k: False for k in ("traceback", "hang", "lost", "twice",
                                                                            "unclear")}, **kw}), flush=True)


def status(board, seq):
    got = answers(board.send(frame(seq, bytes([Op.STATUS]))))
    return P.decode_status(got[0][1][1:]) if got and got[0] and len(got[0][1]) == 17 else None


def weights(board, seq):
    got = answers(board.send(frame(seq, P.read(SPEC, 0, 8))))
    return got[0][1] if got and got[0] else None


def cut_cases(make, where):
    rng = np.random.default_rng(0)
    words = rng.integers(-100, 100, (8, SPEC.lanes))
    cuts = {"SEED with 3 of 8 bytes": P.seed(SPEC, 99)[:4],
            "FORWARD with fewer columns than announced": P.forward(SPEC, 0, 2, rng.integers(-5, 5, (1, 8)))[:-3],
            "LOAD announcing more words than it carries": P.encode(SPEC, Op.LOAD, addr=0, count=8) +
            P.to_bytes(-words[:2], SPEC.w_bytes)}
    for name, body in cuts.items():
        board = make()
        try:
            board.send(frame(0, P.load(SPEC, 0, words)))
            before = weights(board, 1)
            board.send(frame(2, body))
            pings = [answers(board.send(frame(3 + i, bytes([Op.PING])))) for i in range(3)]
            hang = not all(pings)
            after = None if hang else weights(board, 6)
            row(f"{where}: {name}", hang=hang, lost=not hang and after != before)
        except Exception as e:                      # noqa: BLE001 - scored
            row(f"{where}: {name}", traceback=True, line=f"{type(e).__name__}: {e}"[:160])


def replay_cases(make, where, count):
    rng = np.random.default_rng(1)
    for i in range(count):
        board = make()
        try:
            session = [P.update(SPEC, int(rng.integers(1, 50)), 8), bytes([Op.PING]), P.perturb(SPEC, 1, 8),
                       bytes([Op.PING])][:2 + i % 3]
            wires = [frame(seq, c) for seq, c in enumerate(session)]
            for w in wires:
                board.send(w)
            board.send(wires[int(rng.integers(len(wires) - 1))])          # an older frame, not the last one
            s = status(board, len(wires))
            row(f"{where}: older frame replayed ({len(session)} frames)", twice=s is None or
                s["commands"] != len(session) + 1)
        except Exception as e:                      # noqa: BLE001
            row(f"{where}: older frame replayed", traceback=True, line=f"{type(e).__name__}: {e}"[:160])


def host_cases():
    from zoforge.device.client import EngineClient, EngineError, SpecMismatch
    from zoforge.device.link import FrameLink, LinkError
    from zoforge.device.transports import ModelTransport
    clean = (LinkError, EngineError, SpecMismatch)
    for field, value, work in (("rsp_bytes", 64, lambda c: c.read(0, 30)),
                               ("cmd_bytes", 64, lambda c: c.load(0, np.zeros((20, SPEC.lanes))))):
        model = LinkModel(EngineModel(SPEC), LINK.replace(**{field: value}))
        try:
            frames = FrameLink(ModelTransport(model), SPEC, LINK, clock_hz=CLOCK)
            frames.connect()
            work(EngineClient(frames, SPEC))
            row(f"host: board built with {field}={value}", unclear=True, line="accepted")
        except clean as e:
            row(f"host: board built with {field}={value}", unclear=field not in str(e) or "\n" in str(e),
                line=str(e)[:160])
        except Exception as e:                      # noqa: BLE001
            row(f"host: board built with {field}={value}", traceback=True, line=f"{type(e).__name__}: {e}"[:160])
    frames = FrameLink(ModelTransport(LinkModel(EngineModel(SPEC), LINK)), SPEC, LINK, clock_hz=CLOCK)
    frames.connect()
    client = EngineClient(frames, SPEC)
    client.load(0, np.full((8, SPEC.lanes), (1 << (SPEC.w_bits - 1)) - 1))
    client.perturb(1, 8)
    reported = "overflow" in client.status()
    row("host: overflow flag in STATUS reported", unclear=not reported, line="" if reported else "not reported")


def main():
    cut_cases(Golden, "golden")
    cut_cases(Gateware, "gateware")
    replay_cases(Golden, "golden", 12)
    replay_cases(Gateware, "gateware", 3)
    host_cases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
