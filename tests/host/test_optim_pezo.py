"""PeZO perturbations: the z codes are the hardware's stream, and the fast passes equal the reference."""

import numpy as np
import pytest

from zoforge.golden.engine_model import EngineModel
from zoforge.golden.pezo import fold_factor, perturbation, tensor_scale
from zoforge.golden.queries import lfsr_seed, query_seed
from zoforge.golden.scale import gaussian_norm
from zoforge.golden.spec import SpecError, parse
from zoforge.host.config import GPTConfig
from zoforge.host.optim import Layout, Pass, SpecPerturbation, Workers, build, perturbation_spec
from zoforge.host.optim.spec_render import stream_codes, stream_values
from zoforge.host.params import Params

CFG = GPTConfig(block_size=16, vocab_size=50, n_layer=2, n_head=2, n_embd=16)
ODD = GPTConfig(block_size=6, vocab_size=10, n_layer=1, n_head=1, n_embd=6)      # tensors not word-aligned
#: wte of 1.15 M floats (more than one task chunk), fcw of 65536 (one sub-chunk): every chunking path runs
BIG = GPTConfig(block_size=32, vocab_size=9000, n_layer=1, n_head=2, n_embd=128)
SPECS = ["pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm",
         "pezo:reuse=pool,pool=16,lanes=8,bits=16,scale=sqrt3",
         "pezo:reuse=pool,pool=1000,lanes=8,bits=16,scale=norm",          # period does not divide the chunks
         "pezo:reuse=pool,pool=131072,lanes=8,bits=16,scale=norm",        # larger than the sub-chunk
         "pezo:reuse=rotate,gens=8,hold=8,lanes=8,bits=16,scale=norm",
         "pezo:reuse=none,lanes=4,bits=12,scale=none",
         "pezo:reuse=pool,pool=256,lanes=4,bits=24,scale=norm",           # int32 codes, wide sums
         "pezo:reuse=rotate,gens=2,hold=3,lanes=4,bits=24,scale=norm",
         "pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=fold",
         "pezo:reuse=pool,pool=256,lanes=4,bits=24,scale=fold",           # Python-int prefix sums
         "pezo:reuse=rotate,gens=8,hold=8,lanes=8,bits=16,scale=fold",
         "gaussian:method=clt,n=4,lanes=8,bits=16",
         "gaussian:method=icdf,lanes=4,bits=16",
         "uniform:bits=16,lanes=8"]


FOLD = "pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=fold"


def source(text, cfg=CFG, threads=1):
    return SpecPerturbation(perturbation_spec(text), Layout(cfg), Workers(threads))


@pytest.mark.parametrize("text", ["gaussian:method=clt,n=4,lanes=8,bits=16", "gaussian:method=icdf,lanes=4,bits=16",
                                  "uniform:bits=12,lanes=3,width=20", "pezo-rotate"])
def test_stream_rendering_equals_golden_at_any_offset(text):
    spec = parse(text)
    for seed in (None, 4321):
        flat = spec.golden(3000, seed=seed).reshape(-1)
        for start, n in ((0, len(flat)), (13, 1000), (2000, len(flat) - 2000)):
            assert (stream_codes(spec, start, n, seed) == flat[start:start + n]).all()
            values = stream_values(spec, start, np.empty(n, np.float32), seed)
            assert (values == flat[start:start + n] * spec.out_format.lsb).all()


@pytest.mark.parametrize("text", SPECS)
def test_z_codes_are_the_stream_the_hardware_makes(text):
    src = source(text)
    spec, lay = src.spec, src.layout
    for index in (0, 1, 7):
        query = src.query(index, seed=987654321 + index)
        z = src.full(query)
        for k, seg in enumerate(lay.segments):
            pos = query.start + src.offsets[k]
            pezo = isinstance(spec, type(parse("pezo")))
            if pezo and spec.scale == "norm":
                q = tensor_scale(spec, pos, seg.length, query.seed)
                assert query.scales[k] == q and query.factors is None
                want = perturbation(spec, pos, seg.length, seed=query.seed, q=q)
            elif pezo and spec.scale == "fold":       # sqrt3's codes; the factor travels beside them
                assert query.scales is None and query.factors[k] == fold_factor(spec, pos, seg.length, query.seed)
                want = perturbation(spec, pos, seg.length, seed=query.seed)
            else:
                flat = spec.golden(-(-(pos + seg.length) // spec.outputs_per_cycle), seed=query.seed).reshape(-1)
                want = flat[pos:pos + seg.length]
            codes = src.codes(query, k)
            assert (codes == want).all(), seg.name
            assert (z[seg.offset:seg.offset + seg.length] == codes * spec.out_format.lsb).all()


def test_pool_queries_continue_where_the_last_one_stopped():
    src = source("pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=none")
    n = src.stream_length
    assert n % 4096 and src.query(0, 1).start == 0
    for j in range(1, 5):
        q = src.query(j, seed=j)
        assert q.seed is None and q.start == (j * n) % 4096 and q.start % 8 == 0


def test_pool_refresh_reseeds_every_r_queries_and_restarts_the_pool():
    src = SpecPerturbation(perturbation_spec("pezo:reuse=pool,pool=256,lanes=8,scale=norm,refresh=3"), Layout(CFG),
                           Workers(1), run_seed=9)
    qs = [src.query(j, seed=0) for j in range(7)]
    assert qs[0].seed == qs[1].seed == qs[2].seed != qs[3].seed == qs[5].seed != qs[6].seed
    assert [q.start for q in qs] == [(j % 3) * src.stream_length % 256 for j in range(7)]
    for q in (qs[1], qs[4]):
        for k, seg in enumerate(src.layout.segments[:5]):
            pos = q.start + src.offsets[k]
            assert q.scales[k] == tensor_scale(src.spec, pos, seg.length, q.seed)
            assert (src.codes(q, k) == perturbation(src.spec, pos, seg.length, seed=q.seed, q=q.scales[k])).all()
    z3, z4 = src.full(qs[3]), src.full(qs[4])
    assert not np.array_equal(src.full(qs[0]), z3) and not np.array_equal(z3, z4)


def test_pool_z_matches_the_engine_model():
    """Replaying a tensor on the engine: START (the tensor's first row), SCALE (its q), then the pass's
    words. The engine model's z equals our codes for every tensor of two queries."""
    engine = EngineModel(parse("engine:rng=pezo-pool-norm-x2,words=512"))
    src = source("pezo-pool-norm-x2")
    lanes = src.lanes
    for j in (0, 3):
        q = src.query(j, seed=1)
        for k, seg in enumerate(src.layout.segments):
            pos = q.start + src.offsets[k]
            engine.start_row, engine.q = (pos // lanes) % engine.spec.pool_rows, q.scales[k]
            words = engine.z(-(-seg.length // lanes)).reshape(-1)[:seg.length]
            assert (words == src.codes(q, k)).all(), seg.name


def test_seeded_queries_follow_the_seed_command():
    spec = perturbation_spec("pezo:reuse=rotate,gens=4,hold=2,lanes=4,bits=16,scale=none")
    src = SpecPerturbation(spec, Layout(CFG), Workers(1), run_seed=4, queries=3)
    q = src.query(5)                                                   # step 1, query 2
    assert q.start == 0 and 0 < q.seed < 2 ** 32 and q.seed == query_seed(4, 1, 2) & 0xFFFFFFFF
    assert (src.codes(q, 0) == src.spec.golden(256, seed=q.seed).reshape(-1)[:src.layout.segments[0].length]).all()
    assert lfsr_seed(spec, 1 << 32) == 1                               # an all-zero LFSR seed is never used


def reference_pass(w, z, op, decay_mask, factors):
    """The definition: w <- (w + a f z) * d + b f z, products rounded to float32, on the whole vector;
    f the segment's factor (scale=fold; 1 otherwise), a*f and b*f float32 scalars."""
    w = w.copy()
    if op.a:
        w += z * np.float32(op.a * factors)
    if op.decay is not None:
        w[decay_mask] *= np.float32(op.decay)
    if op.b:
        w += z * np.float32(op.b * factors)
    return w


@pytest.mark.parametrize("cfg,text,refresh", [(c, t, 0) for c in (CFG, ODD) for t in SPECS] +
                         [(BIG, t, 0) for t in SPECS[:5] + SPECS[-1:]] + [(CFG, SPECS[0], 1), (BIG, SPECS[0], 2)] +
                         [(BIG, FOLD, 0), (BIG, FOLD, 1)])
def test_fast_pass_equals_reference(text, cfg, refresh):
    spec = perturbation_spec(text)
    src = SpecPerturbation(spec.replace(refresh=refresh) if refresh else spec, Layout(cfg), Workers(2), run_seed=3)
    lay = src.layout
    params = Params.init(cfg, 3)
    trainable = np.concatenate([params.data[s.start:s.stop] for s in lay.segments])
    mask = np.concatenate([np.full(s.length, s.decay) for s in lay.segments])
    query = src.query(3, seed=1234567)
    z = src.full(query)
    factors = np.concatenate([np.full(s.length, query.factor(k)) for k, s in enumerate(lay.segments)])
    for op in (Pass(a=1e-3), Pass(a=-2e-3), Pass(a=1e-3, decay=0.999, b=-0.0123), Pass(decay=0.99, b=0.5)):
        want = reference_pass(trainable, z, op, mask, factors)
        src.apply(params.data, query, op)
        got = np.concatenate([params.data[s.start:s.stop] for s in lay.segments])
        assert np.array_equal(got, want), op
        trainable = want
    padding = params.wte[cfg.vocab_size:]
    assert not padding.any()                                        # the padded rows are never touched


def test_perturb_spec_errors_name_the_kind():
    with pytest.raises(SpecError, match="not a perturbation source"):
        perturbation_spec("lfsr:width=16")
    with pytest.raises(SpecError, match="pool=3"):
        perturbation_spec("pezo:pool=3")


@pytest.mark.parametrize("text", [FOLD, "pezo:reuse=rotate,gens=8,hold=8,lanes=8,bits=16,scale=fold"])
def test_fold_factors_norm_match_every_tensor(text):
    """f_k * z_k has the expected norm of a standard Gaussian vector of the tensor's length, unless f_k
    reached the clamp scale=norm has too; the factors differ between tensors and queries."""
    src = source(text, BIG, threads=2)
    q0, q1 = src.query(0), src.query(1)
    spec, matched = src.spec, 0
    for k, seg in enumerate(src.layout.segments):
        z = src.codes(q0, k).astype(np.float64) * spec.out_format.lsb
        if q0.factor(k) < ((2 << spec.sfrac) - 1) / spec.q:
            assert np.linalg.norm(q0.factor(k) * z) == pytest.approx(gaussian_norm(seg.length), rel=1e-9)
            matched += 1
    assert matched >= len(src.layout.segments) // 2
    assert len(set(q0.factors)) > 1 and q0.factors != q1.factors


def test_pool_refresh_option_sets_the_spec_which_checks_it():
    params = Params.init(CFG, 0)
    opt = build("pezo", params, perturb="pezo-pool-fold", pool_refresh=2)
    assert opt.source.spec.refresh == 2 and opt.source.name == str(opt.source.spec) and "refresh=2" in opt.name
    assert build("pezo", params, perturb="pezo-pool-r1").source.spec.refresh == 1      # 0 keeps the spec's
    for perturb, message in [("pezo-rotate", "^pezo: refresh=2 applies to reuse=pool only"),
                             ("gaussian:method=clt,n=4,lanes=8,bits=16", "^gaussian: refresh=2 applies to pool specs")]:
        with pytest.raises(SpecError, match=message):
            build("pezo", params, perturb=perturb, pool_refresh=2)
    with pytest.raises(SpecError, match="^pezo: refresh=-1 is out of range"):
        build("pezo", params, perturb="pezo-pool", pool_refresh=-1)
