"""Layout: the trainable segments of the flat vector and the hardware stream offsets."""

import numpy as np

from zoforge.host.config import GPTConfig, preset
from zoforge.host.optim import Layout
from zoforge.host.params import Params


def test_segments_cover_storage_except_wte_padding():
    cfg = GPTConfig(block_size=8, vocab_size=50, n_layer=2, n_head=2, n_embd=8)     # Vp = 128
    lay = Layout(cfg)
    covered = np.zeros(len(Params.zeros(cfg)), bool)
    for s in lay.segments:
        assert not covered[s.start:s.stop].any()
        covered[s.start:s.stop] = True
    wte = Params.zeros(cfg).slice("wte")
    padding = slice(wte.start + cfg.vocab_size * cfg.n_embd, wte.stop)
    assert not covered[padding].any() and covered.sum() == lay.size == cfg.num_parameters
    assert [s.offset for s in lay.segments] == list(np.cumsum([0] + [s.length for s in lay.segments[:-1]]))
    names = [s.name for s in lay.segments]
    assert names[:4] == ["wte", "wpe", "ln1w[0]", "ln1w[1]"] and names[-1] == "lnfb"
    decayed = {s.name for s in lay.segments if s.decay}
    assert "qkvw[1]" in decayed and "wte" in decayed and not any(n.startswith(("ln", "qkvb", "fcb")) for n in decayed)


def test_stream_offsets_start_every_tensor_on_a_word():
    cfg = GPTConfig(block_size=6, vocab_size=10, n_layer=1, n_head=1, n_embd=6)       # 6 is not a multiple of 8
    lay = Layout(cfg)
    offs = lay.stream_offsets(8)
    assert all(o % 8 == 0 for o in offs)
    assert all(b - a >= s.length for a, b, s in zip(offs, offs[1:], lay.segments))
    assert lay.stream_length(8) % 8 == 0 and lay.stream_length(1) == lay.size
    assert Layout(preset("gpt2")).stream_offsets(8) == tuple(s.offset for s in Layout(preset("gpt2")).segments)


def test_pieces_split_a_range_over_segments():
    lay = Layout(preset("tiny"))
    lo, hi = 10, lay.size - 7
    got = [(s.name, a, b) for s, a, b in lay.pieces(lo, hi)]
    assert sum(b - a for _, a, b in got) == hi - lo
    assert got[0][1] == 10 and got[-1][2] == lay.segments[-1].length - 7
