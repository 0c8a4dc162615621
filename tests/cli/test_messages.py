"""Error lines: one "zoforge: error:" prefix, never a second one, and a "did you mean" for near misses
of kinds, presets, spec keys and values, model presets, board names, choices and subcommands."""

import pytest

from tests.host.cli_util import run


@pytest.mark.parametrize("argv, suggestion", [
    (["gen", "pezzo", "-o", "x"], "did you mean 'pezo'?"),                      # kind
    (["gen", "engine-xs", "-o", "x"], "did you mean 'engine-s'?"),              # preset
    (["gen", "pezo:lane=8", "-o", "x"], "did you mean 'lanes'?"),               # key
    (["gen", "pezo:reuse=pooll", "-o", "x"], "did you mean 'pool'?"),           # value
    (["train", "--task", "synthetic", "--model", "tinny", "-o", "{t}/r"], "did you mean 'tiny'?"),
    (["train", "--optimizer", "pezzo"], "did you mean 'pezo'?"),                # choice
    (["build", "--board", "icebraker"], "did you mean 'icebreaker'?"),          # board
    (["sim", "--board", "ulx3s"], "did you mean 'ulx3s-85f'?"),
    (["trian"], "did you mean 'train'?"),                                       # subcommand
])
def test_near_misses_get_a_suggestion(tmp_path, capsys, argv, suggestion):
    code, _, err = run(capsys, *[a.format(t=tmp_path) for a in argv])
    assert code == 2 and err.count("\n") == 1 and suggestion in err, err
    assert err.startswith("zoforge: error: ") and "error: zoforge" not in err, err


@pytest.mark.parametrize("argv", [
    ["sim", "lfsr", "--netlist", "synth"],
    ["sim", "lfsr", "--waves", "x.txt"],
    ["sim", "lfsr", "--sessions", "2"],
    ["sim"],
    ["synth", "lfsr", "--family", "xc7", "--fmax"],
    ["train", "--steps", "x"],
    ["npu", "emulate", "gemm"],
])
def test_one_error_prefix(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith("zoforge: error: "), err
    assert not err[len("zoforge: error: "):].startswith("zoforge"), err
