"""Sign perturbations on the host: the z codes are the hardware's stream, the fast passes equal the
reference, and a training run with ``--perturb sign`` works."""

import numpy as np
import pytest

from tests.host.cli_util import run
from tests.host.test_optim_pezo import CFG, ODD, reference_pass
from tests.host.test_trainer import options, quiet
from zoforge.golden.engine_model import EngineModel
from zoforge.golden.queries import query_position
from zoforge.golden.spec import parse
from zoforge.host.optim import Layout, SpecPerturbation, Workers, perturbation_spec
from zoforge.host.optim.spec_render import stream_codes, stream_values
from zoforge.host.params import Params
from zoforge.host.trainer import Trainer

SPECS = ["sign", "sign-sparse", "sign:lanes=3,sparse=4,width=20,bits=20"]


@pytest.mark.parametrize("text", SPECS)
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
    src = SpecPerturbation(perturbation_spec(text), Layout(CFG), Workers(1))
    spec = src.spec
    for index in (0, 5):
        query = src.query(index, seed=987654321 + index)
        assert (query.seed, query.start) == query_position(spec, index, src.stream_length, src.run_seed)
        assert query.start == 0 and 0 < query.seed < 1 << spec.width
        z = src.full(query)
        flat = spec.golden(src.stream_length // spec.lanes, seed=query.seed).reshape(-1)
        for k, seg in enumerate(src.layout.segments):
            want = flat[src.offsets[k]:src.offsets[k] + seg.length]
            assert (src.codes(query, k) == want).all(), seg.name
            assert (z[seg.offset:seg.offset + seg.length] == want * spec.out_format.lsb).all()


def test_z_matches_the_engine_model():
    engine = EngineModel(parse("engine:rng=sign-x2,words=512"))
    src = SpecPerturbation(perturbation_spec("sign-x2"), Layout(CFG), Workers(1))
    q = src.query(2, seed=77)
    engine.seed = q.seed                                    # what the SEED command sets
    words = engine.z(src.stream_length // 2).reshape(-1)
    for k, seg in enumerate(src.layout.segments):
        assert (words[src.offsets[k]:src.offsets[k] + seg.length] == src.codes(q, k)).all(), seg.name


@pytest.mark.parametrize("cfg", [CFG, ODD])
@pytest.mark.parametrize("text", SPECS[:2])
def test_fast_pass_equals_reference(text, cfg):
    from zoforge.host.optim import Pass
    src = SpecPerturbation(perturbation_spec(text), Layout(cfg), Workers(2), run_seed=3)
    lay = src.layout
    params = Params.init(cfg, 3)
    trainable = np.concatenate([params.data[s.start:s.stop] for s in lay.segments])
    mask = np.concatenate([np.full(s.length, s.decay) for s in lay.segments])
    query = src.query(3, seed=1234567)
    z = src.full(query)
    for op in (Pass(a=1e-3), Pass(a=-2e-3), Pass(a=1e-3, decay=0.999, b=-0.0123)):
        want = reference_pass(trainable, z, op, mask, 1.0)
        src.apply(params.data, query, op)
        got = np.concatenate([params.data[s.start:s.stop] for s in lay.segments])
        assert np.array_equal(got, want), op
        trainable = want


@pytest.mark.parametrize("perturb", ["sign", "sign-sparse"])
def test_training_with_sign_perturbations_lowers_the_loss(tmp_path, perturb):
    result = Trainer(options(tmp_path, "pezo", perturb=perturb, steps=40, batch=16, eval_interval=0),
                     log=quiet).run()
    first, last = result.evals[0]["loss"], result.evals[-1]["loss"]
    assert result.step == 40 and last < first - 0.2, (first, last)


def test_cli_trains_with_perturb_sign(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--task", "synthetic", "--model", "tiny", "--optimizer", "pezo",
                         "--perturb", "sign-sparse", "--steps", "3", "--batch", "4", "--seq", "16",
                         "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    code, _, err = run(capsys, "train", "--task", "synthetic", "--optimizer", "pezo", "--perturb", "sign:sparse=3")
    assert code == 2 and err.count("\n") == 1 and "sparse='3'" in err, err
