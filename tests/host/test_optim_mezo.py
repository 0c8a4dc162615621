"""MeZO's Gaussian z: a pure function of the seed (any threads, any pass), N(0, 1), applied exactly."""

import numpy as np

from zoforge.host.config import GPTConfig
from zoforge.host.optim import Layout, MezoGaussian, Pass, Workers
from zoforge.host.optim.mezo_z import BLOCK, gaussian_block
from zoforge.host.params import Params

BIG = GPTConfig(block_size=32, vocab_size=9000, n_layer=1, n_head=2, n_embd=128)    # 1.4 M: two blocks


def test_z_is_a_function_of_the_seed_and_looks_gaussian():
    a, b = gaussian_block(11, 0, 200_001), gaussian_block(11, 0, 200_001)
    assert np.array_equal(a, b) and not np.array_equal(a, gaussian_block(12, 0, 200_001))
    assert not np.array_equal(gaussian_block(11, 1, 1000), a[:1000])
    assert abs(a.mean()) < 0.01 and abs(a.var() - 1) < 0.01 and abs(np.mean(a ** 4) - 3) < 0.05
    assert np.isfinite(a).all() and np.abs(a).max() < 6


def test_passes_apply_the_same_z_on_any_thread_count():
    lay = Layout(BIG)
    z = MezoGaussian(lay, Workers(1)).full(77)
    assert len(z) == lay.size > BLOCK
    results = []
    for threads in (1, 2):
        p = Params.init(BIG, 0)
        w0 = np.concatenate([p.data[s.start:s.stop] for s in lay.segments])
        src = MezoGaussian(lay, Workers(threads))
        src.apply(p.data, 77, Pass(a=1e-3, decay=0.9, b=-0.25))
        got = np.concatenate([p.data[s.start:s.stop] for s in lay.segments])
        mask = np.concatenate([np.full(s.length, s.decay) for s in lay.segments])
        want = w0 + z * np.float32(1e-3)
        want[mask] *= np.float32(0.9)
        want += z * np.float32(-0.25)
        assert np.array_equal(got, want)
        assert not p.wte[BIG.vocab_size:].any()
        results.append(got)
    assert np.array_equal(*results)
