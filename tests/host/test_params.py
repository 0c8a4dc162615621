"""Params: one flat float32 vector, named views in llm.c order, GPT-2 initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoforge.host.config import preset
from zoforge.host.params import NAMES, Params, decays, num_elements, shapes

CFG = preset("small")


def test_views_tile_the_vector_in_llmc_order():
    p = Params.zeros(CFG)
    assert list(shapes(CFG)) == list(NAMES)
    start = 0
    for name in NAMES:
        view = p[name]
        assert np.shares_memory(view, p.data) and view.flags.c_contiguous
        assert p.slice(name) == slice(start, start + view.size)
        start += view.size
    assert start == len(p) == num_elements(CFG)
    p.data[:] = np.arange(len(p), dtype=np.float32)
    assert p.qkvw[1, 0, 0] == p.slice("qkvw").start + 3 * CFG.n_embd * CFG.n_embd
    assert getattr(p, "lnfb") is p["lnfb"]


def test_gpt2_initialisation():
    p = Params.init(CFG, seed=3)
    L = CFG.n_layer
    assert np.all(p.ln1w == 1) and np.all(p.lnfw == 1) and not p.qkvb.any() and not p.lnfb.any()
    assert not p.wte[CFG.vocab_size:].any()                    # padded rows start at zero
    assert p.qkvw.std() == pytest.approx(0.02, rel=0.05)
    assert p.fcprojw.std() == pytest.approx(0.02 / math.sqrt(2 * L), rel=0.05)
    assert p.attprojw.std() == pytest.approx(0.02 / math.sqrt(2 * L), rel=0.05)
    np.testing.assert_array_equal(Params.init(CFG, seed=3).data, p.data)
    assert not np.array_equal(Params.init(CFG, seed=4).data, p.data)


def test_copy_and_bad_data():
    p = Params.init(CFG)
    q = p.copy()
    q.data += 1
    assert not np.shares_memory(p.data, q.data) and p.data[0] != q.data[0]
    with pytest.raises(ValueError, match="contiguous 1-D float32 array"):
        Params(CFG, np.zeros(len(p), np.float64))
    with pytest.raises(ValueError, match="contiguous 1-D float32 array"):
        Params(CFG, np.zeros(len(p) - 1, np.float32))


def test_weight_decay_groups():
    assert [n for n in NAMES if decays(n)] == ["wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"]
