"""The pictures: a run's loss.png shows its evaluations as they come (rewritten at each one), and
`zoforge quality --plot` draws the histogram and a QQ plot against N(0, 1)."""

import numpy as np

from tests.host.cli_util import run
from zoforge.host.options import TrainOptions
from zoforge.host.plot import plot_distribution, plot_run
from zoforge.host.trainer import Trainer

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_plot_is_rewritten_at_each_evaluation(tmp_path):
    opts = TrainOptions(model="tiny", task="synthetic", seq=48, batch=4, steps=6, eval_interval=2, lr=1e-3,
                        threads=1, progress=False, out=str(tmp_path))
    seen = {}

    def after_step(trainer, step):
        png = tmp_path / "loss.png"
        seen[step] = png.read_bytes() if png.exists() else None

    Trainer(opts, after_step=after_step, log=lambda *_: None).run()
    assert seen[1] is None                                       # no plot before the first evaluation in the run
    assert seen[2][:8] == PNG and seen[4][:8] == PNG and seen[4] != seen[2]
    assert (tmp_path / "loss.png").read_bytes() != seen[4]       # the end's evaluation is drawn too


def test_plot_run_draws_evaluations_of_both_kinds_of_run(tmp_path):
    zo = [{"kind": "eval", "step": 0, "loss": 1.3, "accuracy": 0.3, "test_loss": 1.2, "test_accuracy": 0.3},
          {"kind": "train", "step": 1, "loss_plus": 1.2, "loss_minus": 1.1},
          {"kind": "eval", "step": 1, "loss": 1.1, "accuracy": 0.5, "test_loss": 1.15, "test_accuracy": 0.4}]
    assert plot_run(tmp_path / "zo.png", zo, "zo") and (tmp_path / "zo.png").read_bytes()[:8] == PNG
    assert not plot_run(tmp_path / "none.png", zo[:1], "zo") and not (tmp_path / "none.png").exists()


def test_quality_plot(tmp_path, capsys):
    code, out, err = run(capsys, "quality", "clt4", "--count", "20000", "--plot", tmp_path / "q.png")
    assert code == 0, err
    assert (tmp_path / "q.png").read_bytes()[:8] == PNG and "QQ plot" in out
    code, _, err = run(capsys, "quality", "clt4", "--count", "100", "--plot", tmp_path)     # a folder
    assert code == 2 and err.count("\n") == 1


def test_qq_points_follow_the_normal_quantiles(tmp_path):
    """The QQ panel: near y = x for a Gaussian source (ICDF), flat tails for a uniform one."""
    from zoforge.golden.spec import parse
    for name in ("icdf16", "uniform16"):
        spec = parse(name)
        expected, sample = plot_distribution(tmp_path / f"{name}.png", spec.out_format.to_float(spec.golden(20000)))
        inner = np.abs(expected) < 2.3                               # 1 % .. 99 %
        gap = np.abs(sample - expected)[inner].max()
        assert gap < 0.1 if name == "icdf16" else gap > 0.5, (name, gap)
        assert sample.max() < 1.8 if name == "uniform16" else sample.max() > 3, (name, sample.max())
