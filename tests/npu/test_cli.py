"""`zoforge npu ...`: each subcommand works; bad input is one line and exit status 2."""

import pytest

from zoforge.cli import EXIT_BAD_INPUT, UsageError, _Parser, build_parser, main
from zoforge.cli.npu import add_npu_parser
from zoforge.golden.spec import SpecError


def hooked() -> bool:
    try:
        build_parser().parse_args(["npu", "perf", "gemm"])
        return True
    except (UsageError, SystemExit):
        return False


def run(capsys, *argv):
    """Through the main CLI when it has `npu`, else through an equivalent parser."""
    if hooked():
        code = main(["npu", *argv])
    else:
        p = _Parser(prog="zoforge")
        add_npu_parser(p.add_subparsers(dest="command", required=True, parser_class=_Parser), _Parser)
        try:
            args = p.parse_args(["npu", *argv])
            code = args.func(args)
        except (UsageError, SpecError) as e:
            print(f"zoforge: error: {e}", file=__import__("sys").stderr)
            code = EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_reports_each_shape(capsys):
    code, out, _ = run(capsys, "validate", "npu1-gpt2", "--shapes", "gpt2")
    assert code == 0 and "9 of 9 shapes can run" in out
    code, out, _ = run(capsys, "validate", "npu1-gpt2", "--shapes", "256x768x50304,250x768x768")   # LM head runs
    assert code == 1 and "[shape_divisible]" in out and "1 of 2 shapes can run" in out


def test_emulate_prints_stats_and_error(capsys):
    code, out, _ = run(capsys, "emulate", "gemm:cols=2,rows=2,m=32,k=32,n=32", "--shape", "128x128x128")
    assert code == 0 and "kernel calls" in out and "within the worst-case bound" in out and ": yes" in out
    code, out, _ = run(capsys, "emulate", "npu1-i16", "--shape", "256x128x128")
    assert code == 0 and "equal to the exact integer matmul" in out


def test_perf_prints_the_table(capsys):
    code, out, _ = run(capsys, "perf", "npu1-gpt2")
    assert code == 0 and "| 256x768x3072 |" in out and "GFLOP/s" in out


def test_build_without_mlir_aie_is_one_line_exit_2(capsys, tmp_path):
    pytest.importorskip("zoforge.npu.iron")
    import importlib.util
    if importlib.util.find_spec("aie") is not None:
        pytest.skip("mlir-aie is installed")
    code, out, err = run(capsys, "build", "npu1-gpt2", "--shapes", "gpt2", "-o", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "mlir-aie is not importable" in err


@pytest.mark.parametrize("argv, words", [
    (["validate", "gemm:m=40"], ["m=40"]),
    (["validate", "lfsr"], ["not usable here"]),
    (["validate", "npu1-gpt2", "--shapes", "12x"], ["malformed"]),
    (["emulate", "npu1-gpt2", "--shape", "250x768x768"], ["M=250 is not a multiple of 256"]),
    (["emulate", "npu1-gpt2"], ["--shape"]),
    (["perf", "gemm:cols=8"], ["cols=8"]),
    (["nosuch"], ["invalid choice"]),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1, err
    assert all(w in err for w in words), err
