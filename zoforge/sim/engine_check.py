"""The engine and the board tops against the golden engine, on random valid command sessions.

``check_engine``  the engine's byte streams: each session (:func:`~zoforge.golden.engine_sessions.random_session`)
                  goes through the gateware and every response byte is compared with
                  :class:`~zoforge.golden.engine_model.EngineModel`'s
``check_board``   a board top through its UART pins: each command in a link frame, the answer frames
                  compared with :class:`~zoforge.golden.link.LinkModel` in front of the golden engine

Simulators: ``pysim`` (Amaranth), ``icarus`` and ``verilator`` (cocotb benches; a board on Verilator
runs in the C++ harness of :mod:`zoforge.sim.verilator_board`). ``netlist=(stage, family)`` simulates
Yosys's post-synthesis (``synth``) or nextpnr's post-place-and-route (``pnr``) netlist with the family's
cell models in Icarus instead of the RTL (:mod:`zoforge.sim.netlist`).

Members: :func:`check_engine`, :func:`check_board`, :func:`sessions_for` -> list of sessions,
:class:`SessionCheck` (the outcome; ``.ok``, ``.differences``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..golden.engine_model import EngineModel
from ..golden.engine_sessions import random_session
from .cocotb_sessions import Ticker
from .session_compare import first_differences

__all__ = ["check_engine", "check_board", "sessions_for", "SessionCheck", "SIMULATORS"]

SIMULATORS = ("pysim", "icarus", "verilator")
STALL_CYCLES = 200_000          # no byte in or out for this long: the design is stuck


@dataclasses.dataclass
class SessionCheck:
    what: str                   # "engine:..." or "board icebreaker (engine:...)"
    simulator: str
    sessions: int
    commands: int
    response_bytes: int
    cycles: int                 # 0 when the simulator does not report them
    seconds: float
    differences: list[str]
    waves: str | None = None

    @property
    def ok(self) -> bool:
        return not self.differences


def sessions_for(spec, seed: int, count: int, commands: int, link_spec=None) -> list[list[bytes]]:
    """``count`` random sessions; with a link, small enough that every command and answer fits a frame."""
    max_words = 48
    if link_spec is not None:
        room = min(link_spec.max_command, link_spec.max_response) - 16
        max_words = max(2, min(max_words, room // (spec.lanes * spec.w_bytes)))
    out = []
    for k in range(count):
        session = random_session(spec, np.random.default_rng([seed, k]), commands, max_words)
        if link_spec is not None:
            session = [c for c in session if len(c) <= link_spec.max_command]
        out.append(session)
    return out


def _golden(spec, sessions):
    model = EngineModel(spec)
    return [[model.transact(c) for c in s] for s in sessions]


def _compare(commands, expected, got) -> list[str]:
    return first_differences([c for s in commands for c in s], [e for s in expected for e in s], got)


# ---- the engine's byte streams -------------------------------------------------------------------

def check_engine(spec, simulator: str = "pysim", *, sessions: int = 3, commands: int = 30, seed: int = 1,
                 waves: str | None = None, netlist: tuple[str, str] | None = None, prob: float = 0.8,
                 ticker: Ticker | None = None) -> SessionCheck:
    ticker = ticker or Ticker(f"sim {spec.KIND}")
    cmds = sessions_for(spec, seed, sessions, commands)
    expected = _golden(spec, cmds)
    total = sum(len(e) for s in expected for e in s)
    t0 = time.perf_counter()
    cycles = 0
    if simulator == "pysim" and netlist is None:
        from .engine_sim import SimEngine
        sim = SimEngine(spec, valid_prob=prob, ready_prob=prob, rng_seed=seed, vcd=waves)
        got = b""
        try:
            for k, session in enumerate(cmds):
                got += sim.transact(b"".join(session))
                ticker(f"pysim: session {k + 1}/{len(cmds)}, {len(got)}/{total} bytes, {sim.link.cycles} cycles")
        except Exception as e:                      # a stall: compare what came
            from .bytestream import StallError
            if not isinstance(e, StallError):
                raise
            got += bytes(sim.link._rx)
        finally:
            sim.close()
        cycles = sim.link.cycles
    else:
        from ..gen.emit import to_verilog
        from .cocotb_sessions import run_session
        top = "engine"
        verilog, extra, args, key = to_verilog(spec, top)[0], (), (), f"engine-stream {spec}"
        if netlist is not None:
            from .netlist import netlist_verilog
            verilog, extra, args = netlist_verilog(top, verilog, *netlist, ticker=ticker)
            key += f" netlist {netlist}"
        params = {"data": b"".join(c for s in cmds for c in s).hex(), "expect": total, "valid_prob": prob,
                  "ready_prob": prob, "rng_seed": seed, "stall_limit": STALL_CYCLES}
        got = run_session(simulator, key, top, verilog, "stream_session", params, extra_sources=extra, extra_args=args,
                          waves=waves, ticker=ticker, expect_bytes=total)
    return SessionCheck(str(spec), _label(simulator, netlist), len(cmds), sum(map(len, cmds)), total, cycles,
                        time.perf_counter() - t0, _compare(cmds, expected, got), waves)


def _label(simulator, netlist):
    return simulator if netlist is None else f"icarus ({netlist[0]} netlist, {netlist[1]} cells)"


# ---- a board top through its UART pins -----------------------------------------------------------

def _frames(spec, link_spec, cmds):
    from ..golden.link import LinkModel, frame
    model = LinkModel(EngineModel(spec), link_spec)
    wires, answers, seq = [], [], 0
    for session in cmds:
        w, a = [], []
        for command in session:
            seq = (seq + 1) % 256
            w.append(frame(seq, command))
            a.append(model.feed(w[-1]))
        wires.append(w)
        answers.append(a)
    return wires, answers


def check_board(board, spec, link_spec, simulator: str = "pysim", *, sessions: int = 1, commands: int = 30,
                seed: int = 1, waves: str | None = None, netlist: tuple[str, str] | None = None,
                ticker: Ticker | None = None) -> SessionCheck:
    ticker = ticker or Ticker(f"sim board {board.name}")
    cmds = sessions_for(spec, seed, sessions, commands, link_spec)
    wires, answers = _frames(spec, link_spec, cmds)
    total = sum(len(a) for s in answers for a in s)
    what = f"board {board.name} ({spec}, {link_spec})"
    t0 = time.perf_counter()
    cycles = 0
    if netlist is None and simulator in ("pysim", "verilator"):
        got, cycles = _board_pins(board, spec, link_spec, simulator, wires, answers, waves, ticker)
    else:
        from .board_verilog import board_verilog
        from .cocotb_sessions import run_session
        top, verilog = board_verilog(spec, link_spec, board.clock_hz)
        extra, args, key = (), (), f"board-uart {board.name} {spec} {link_spec}"
        if netlist is not None:
            from .netlist import netlist_verilog
            verilog, extra, args = netlist_verilog(top, verilog, *netlist, ticker=ticker)
            key += f" netlist {netlist}"
            simulator = "icarus"
        params = {"frames": [w.hex() for s in wires for w in s], "expect": [len(a) for s in answers for a in s],
                  "divisor": link_spec.divisor, "quiet_cycles": STALL_CYCLES}
        got = run_session(simulator, key, top, verilog, "uart_session", params, extra_sources=extra, extra_args=args,
                          waves=waves, ticker=ticker, expect_bytes=total)
    return SessionCheck(what, _label(simulator, netlist), len(cmds), sum(map(len, cmds)), total, cycles,
                        time.perf_counter() - t0, _compare(wires, answers, got), waves)


def _board_pins(board, spec, link_spec, simulator, wires, answers, waves, ticker):
    if simulator == "pysim":
        from ..gen.board_top import BoardTop
        from .board_sim import BoardSim
        pins = BoardSim(BoardTop(spec, link_spec, clock_hz=board.clock_hz), link_spec.divisor, vcd=waves)
    else:
        from .verilator_board import VerilatorBoard
        pins = VerilatorBoard(spec, link_spec, board.clock_hz, vcd=waves, progress=lambda line: ticker(line, True))
    from ..golden.link import END
    char = 10 * link_spec.divisor
    flat = [(w, a) for s in zip(wires, answers) for w, a in zip(*s)]
    got = bytearray()
    try:
        for k, (wire, answer) in enumerate(flat):
            pins.write(wire)
            want = len(got) + len(answer)
            while len(got) < want:
                chunk = pins.read_until(END, (len(wire) + len(answer)) * char + STALL_CYCLES)
                if not chunk:
                    break
                got += chunk
            ticker(f"{simulator}: frame {k + 1}/{len(flat)}, {len(got)} bytes, {pins.cycles} cycles")
        pins.run(20 * char)                          # a stray extra byte shows up as a difference
        while chunk := pins.read_until(END, 0):
            got += chunk
    finally:
        pins.close()
    return bytes(got), pins.cycles
