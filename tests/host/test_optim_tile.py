"""PeZO with the weight matrices perturbed inside the NPU's tiles (TileZOSGD on npu-emu with a
``perturb=`` design): each forward equals the unfused path (the host perturbs every weight, the backend
converts them) bit for bit; a step converts each matrix once, not once per forward; the step's update is
the restore-free one; wrong combinations fail in one line."""

import json

import numpy as np
import pytest

from zoforge.cli import main
from zoforge.golden.spec import SpecError
from zoforge.host.backends import backend_for
from zoforge.host.config import parse_config
from zoforge.host.model import GPT
from zoforge.host.optim import Pass, TileZOSGD, build
from zoforge.host.optim.zo_tile import TILE_TENSORS
from zoforge.host.params import Params
from zoforge.npu.numerics import from_bf16, to_bf16

DESIGN = "npu1-gpt2-pezo"
# 128 channels: every GEMM's depth divides into the design's k x depth; vocabulary 257 pads to 384 columns.
CONFIG = "tiny:n_embd=128"
EPS = 1e-2


def setup(seed=1):
    cfg = parse_config(CONFIG)
    params = Params.init(cfg, seed=seed)
    for name in TILE_TENSORS:             # bf16-exact matrices: then bf16(w) + a z == the host's w + a z
        params[name][...] = from_bf16(to_bf16(params[name]))
    rng = np.random.default_rng(seed)
    tokens, targets = rng.integers(0, cfg.vocab_size, (4, 64)), rng.integers(0, cfg.vocab_size, (4, 64))
    backend = backend_for("npu-emu", DESIGN)
    return cfg, params, GPT(cfg, params, backend=backend), backend, tokens, targets


def test_a_tile_perturbed_forward_equals_the_host_perturbed_unfused_forward():
    cfg, params, model, backend, tokens, targets = setup()
    opt = build("pezo", params, backend=backend, eps=EPS)
    assert isinstance(opt, TileZOSGD)
    query = opt.source.query(0)
    start = params.data.copy()
    for a in (EPS, -EPS):
        reference = Params(cfg, start.copy())
        opt.source.apply(reference.data, query, Pass(a=a))          # every weight perturbed on the host
        want = GPT(cfg, reference, backend=backend_for("npu-emu", DESIGN)).forward(tokens, targets)
        opt.host_pass(query, Pass(a=a))
        got = opt.forward(lambda: model.forward(tokens, targets), query, a)
        assert got == want, a
        params.data[:] = start
        params.updated()
    assert backend.host_work.perturbed_calls == 2 * (4 * cfg.n_layer + 1)


def test_the_embedding_rows_are_the_host_perturbed_rows():
    cfg, params, _, backend, tokens, _ = setup()
    opt = build("pezo", params, backend=backend, eps=EPS)
    query = opt.source.query(3)
    perturbed = params.copy()
    opt.source.apply(perturbed.data, query, Pass(a=-EPS))
    opt._at = (query, -EPS)
    rows, ids = opt.embedding(params.wte, tokens)
    np.testing.assert_array_equal(rows[ids], perturbed.wte[tokens])


def test_a_step_converts_each_matrix_once_and_never_perturbs_it_on_the_host():
    cfg, params, model, backend, tokens, targets = setup()
    opt = build("pezo", params, backend=backend, eps=EPS, weight_decay=0.1)
    matrices = 4 * cfg.n_layer + 1
    start = params.copy()
    loss = lambda: model.forward(tokens, targets)       # noqa: E731
    opt.step(loss, 0, 1e-3)
    work = backend.host_work
    assert (work.weight_conversions, work.weight_hits, work.perturbed_calls) == (matrices, matrices, 2 * matrices)
    # The update: the host's tensors went +eps, -2eps, +eps (as ZOSGD), the matrices only decay and b z.
    query, g = opt.last_queries[0], opt.last_grads[0]
    want = start.copy()
    host = [u for k, s in enumerate(opt.source.layout.segments) if s.name.partition("[")[0] not in TILE_TENSORS
            for u in opt.source.segment_units[k]]
    for a in (EPS, -2 * EPS, EPS):
        opt.source.apply_units(want.data, [(query, Pass(a=a))], host)
    opt.source.apply(want.data, query, Pass(decay=1 - 1e-3 * 0.1, b=-1e-3 * g))
    np.testing.assert_array_equal(params.data, want.data)
    opt.step(loss, 1, 1e-3)
    assert work.weight_conversions == 2 * matrices        # once per step, after the update


def test_the_unfused_step_converts_every_matrix_on_every_forward():
    """The baseline the tile path removes (ZOSGD on the same design, perturbation on the host)."""
    cfg, params, model, _, tokens, targets = setup()
    plain = backend_for("npu-emu", "npu1-gpt2")
    model = GPT(cfg, params, backend=plain)
    build("pezo", params, eps=EPS, perturb="pezo-pool-norm").step(lambda: model.forward(tokens, targets), 0, 1e-3)
    assert plain.host_work.weight_conversions == 2 * (4 * cfg.n_layer + 1)


def test_wrong_combinations_fail_in_one_line():
    _, params, _, backend, _, _ = setup()
    with pytest.raises(SpecError, match="MeZO's Gaussian"):
        build("mezo", params, backend=backend)
    with pytest.raises(SpecError, match="use --perturb pezo-pool-norm"):
        build("pezo", params, backend=backend, perturb="pezo-pool")
    build("pezo", params, backend=backend, pool_refresh=4)          # refresh is the host's choice


def test_train_with_a_perturbing_design(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--task", "synthetic", "--model", CONFIG, "--optimizer", "pezo", "--steps", "2",
                 "--batch", "4", "--seq", "64", "--eval-interval", "2", "--matmul", "npu-emu",
                 "--npu-design", DESIGN, "--no-progress", "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "GEMM FLOPs (100.0%)" in text and "perturbed in the tiles" in text
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sum("loss" in r for r in rows) >= 2


@pytest.mark.parametrize("argv, message", [
    (["--matmul", "cpu", "--npu-design", DESIGN], "--npu-design='npu1-gpt2-pezo' applies with --matmul npu-emu"),
    (["--matmul", "npu-emu", "--npu-design", "npu1-gpt3"], "--npu-design='npu1-gpt3'"),
    (["--matmul", "npu-emu", "--npu-design", DESIGN, "--optimizer", "mezo"], "MeZO's Gaussian"),
])
def test_bad_design_options_exit_2_in_one_line(tmp_path, capsys, argv, message):
    code = main(["train", "--task", "synthetic", "--model", CONFIG, "--steps", "1", "--batch", "4", "--seq", "64",
                 "--no-progress", "-o", str(tmp_path / "bad"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
