"""The table-driven LFSR generator equals plain serial stepping, across recursion levels and pieces."""

import numpy as np
import pytest

from zoforge.golden.lfsr import LFSRSpec, lfsr_pieces, lfsr_words


def serial(spec: LFSRSpec, cycles: int, start: int = 0, seed=None) -> np.ndarray:
    """One matrix-vector product (or `step` single steps) per lane per cycle, in plain Python."""
    states = spec.lane_seeds(seed)
    if start:
        jump = spec.step_matrix ** start
        states = [jump(s) for s in states]
    out = []
    for _ in range(cycles):
        out.append(states)
        states = [_step(spec, s) for s in states]
    return np.array(out, dtype=np.uint64).reshape(cycles, spec.lanes)


def _step(spec, s):
    if spec.step <= 4:
        for _ in range(spec.step):
            s = spec.one_step(s)
        return s
    return spec.step_matrix(s)


@pytest.mark.parametrize("spec,cycles,start", [
    (LFSRSpec(width=32, lanes=8), 4200, 0),                       # three table levels (64*64 < 4200)
    (LFSRSpec(width=2, lanes=3, step=1), 300, 5),                  # one chunk, period 3
    (LFSRSpec(width=7, lanes=2, step=3, form="fibonacci", seed=99), 700, 1000),
    (LFSRSpec(width=33, lanes=1, step=70, seed=12345), 130, 1 << 33),
    (LFSRSpec(width=64, lanes=2, step=64, seed=0xFEEDFACECAFEBEEF), 129, (1 << 64) - 7),
    (LFSRSpec(width=17, lanes=5, step=4, form="fibonacci"), 65, 63),
])
def test_vectorised_equals_serial(spec, cycles, start):
    want = serial(spec, cycles, start)
    got = lfsr_words(spec, cycles, start=start)
    assert got.dtype == np.uint64 and (got == want).all()
    if spec.width <= 32:
        assert (lfsr_words(spec, cycles, start=start, dtype=np.uint32) == want).all()


def test_pieces_concatenate_to_the_stream():
    spec = LFSRSpec(width=24, lanes=3, seed=4242)
    whole = lfsr_words(spec, 5000, seed=77, start=11)
    for piece in (1, 64, 100, 4096):
        parts = [p.copy() for p in lfsr_pieces(spec, 5000, seed=77, start=11, piece=piece)]
        assert all(len(p) % 64 == 0 for p in parts[:-1])
        assert (np.concatenate(parts) == whole).all()
    assert lfsr_words(spec, 0).shape == (0, 3)
    with pytest.raises(ValueError, match="seed=0"):
        lfsr_words(spec, 0, seed=0)
