"""Random engine command sessions for comparisons and fuzzing: every opcode, valid and invalid
arguments (so error paths and data discarding run too), weights near the limits (so overflows are
flagged and counted), and a final read-back of the touched weights and the counters.

Members
-------
random_session(spec, rng, commands=30, max_words=48) -> list[bytes]   one command per entry
"""

from __future__ import annotations

import numpy as np

from . import engine_protocol as P
from .engine_protocol import Op

__all__ = ["random_session"]


def random_session(spec, rng: np.random.Generator, commands: int = 30, max_words: int = 48) -> list[bytes]:
    L, words = spec.lanes, spec.words
    span = min(words, max_words)                 # weights the session works on (keeps runs short)
    fmt = spec.w_format
    top_seed = (1 << spec.seed_lfsr.width) - 1
    out = [P.load(spec, 0, rng.integers(fmt.min_code // 4, fmt.max_code // 4, size=(span, L)))]

    def count():
        return int(rng.integers(1, span + 1))

    def mezo_triple():
        n = count()
        return b"".join(P.perturb(spec, s, n) for s in (1, -2, 1))

    def forward(valid: bool):
        cols = int(rng.integers(1, min(spec.max_cols, 3 * L + 1) + 1))
        kw = -(-cols // L)
        rows = int(rng.integers(1, max(1, span // kw) + 1))
        base = int(rng.integers(0, span - rows * kw + 1))
        n = int(rng.integers(1, 2 * spec.batch + 2))
        if not valid:
            kind = rng.integers(3)
            if kind == 0:
                cols = spec.max_cols + 1
            elif kind == 1:
                base = words - rows * kw + 1
            else:
                rows = 0
        top = (1 << (spec.a_bits - 1)) - 1
        return P.encode(spec, Op.FORWARD, base=base, rows=rows, cols=cols, n=n) + \
            P.to_bytes(rng.integers(-top - 1, top + 1, size=n * cols), spec.a_bytes)

    makers = [
        lambda: bytes([int(rng.choice([Op.PING, Op.INFO, Op.STATUS]))]),
        lambda: bytes([Op.CLEAR]),
        lambda: bytes([int(rng.choice([0x04, 0x12, 0x3F, 0x41, 0xFF]))]),          # unknown opcodes
        lambda: P.seed(spec, int(rng.integers(1, top_seed + 1))),
        lambda: P.seed(spec, int(rng.choice([0, top_seed + 1]))),
        lambda: P.encode(spec, Op.START, row=int(rng.integers(0, max(spec.pool_rows, 1) + 2))),
        lambda: P.scale(spec, int(rng.integers(0, 1 << 10))),
        mezo_triple,
        lambda: P.perturb(spec, int(rng.choice([1, -1, -2, 0, 2, 5])), count()),
        lambda: P.update(spec, int(rng.integers(-(1 << (spec.c_bits - 1)), 1 << (spec.c_bits - 1))), count()),
        lambda: P.read(spec, int(rng.integers(0, span)), int(rng.integers(1, 4))),
        lambda: P.read(spec, words - 1, 2),                                           # past the end
        lambda: P.load(spec, int(rng.integers(0, span - 3)) if span > 3 else 0,
                       rng.integers(fmt.min_code, fmt.max_code + 1, size=(min(3, span), L))),
        lambda: P.load(spec, words, rng.integers(-5, 5, size=(2, L))),                 # bad address: discarded
        lambda: P.load(spec, 0, np.full((2, L), int(rng.choice([fmt.min_code, fmt.max_code])))),
        lambda: forward(True),
        lambda: forward(True),
        lambda: forward(False),
    ]
    for _ in range(commands):
        out.append(makers[int(rng.integers(len(makers)))]())
    out += [P.read(spec, 0, span), bytes([Op.STATUS])]
    return out
