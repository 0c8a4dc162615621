"""``zoforge sweep``'s command line: bad input in one line (exit 2), Ray missing in one line (exit 1)."""

import sys

import pytest

from zoforge.cli import main


def run(capsys, *argv):
    code = main(["sweep", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["pezo", "-o", "x", "--families", "ice40,arria"], "sweep: families='ice40,arria' is not allowed"),
    (["pezo", "-o", "x", "--seeds", "0"], "seeds='0' must be an integer >= 1"),
    (["pezo", "-o", "x", "--task", "sst2"], "invalid choice: 'sst2'"),
    (["pezo", "-o", "x", "--fmax", "--families", "xc7"], "fmax is available for ice40 and ecp5"),
    (["no/such/sweep.toml", "-o", "x"], "no/such/sweep.toml: No such file or directory"),
    (["pezo"], "the following arguments are required: -o/--output"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_without_ray_the_command_says_how_to_install_it(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)              # import ray raises ImportError
    code, out, err = run(capsys, "pezo:lanes=2", "-o", tmp_path / "out", "--families", "ecp5")
    assert code == 1
    assert err == "zoforge: error: zoforge sweep needs Ray; install it: pip install 'zoforge[sweep]'\n"
    assert not (tmp_path / "out").exists()
