"""Outputs never destroy what they replace: only a regular file or a missing path is replaced."""

import os
import stat

import pytest

from tests.host.cli_util import run
from zoforge import atomic
from zoforge.errors import UsageError  # OutputError, a UsageError


def test_a_regular_file_is_replaced_and_keeps_the_umask_mode(tmp_path):
    target = tmp_path / "a" / "b.txt"
    atomic.write_text(target, "one")
    atomic.write_text(target, "two")
    assert target.read_text() == "two" and sorted(os.listdir(target.parent)) == ["b.txt"]


def test_a_device_node_is_not_replaced(tmp_path):
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))      # the same device /dev/null is
    with pytest.raises(UsageError, match="device"):
        atomic.write_bytes(node, b"x")
    assert stat.S_ISCHR(os.lstat(node).st_mode) and os.listdir(tmp_path) == ["null"]


def test_a_fifo_a_folder_and_a_symlink_are_not_replaced(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "real.txt").write_text("keep")
    (tmp_path / "link").symlink_to(tmp_path / "real.txt")
    for name, what in (("fifo", "FIFO"), ("dir", "folder"), ("link", "symlink")):
        with pytest.raises(UsageError, match=what):
            atomic.write_text(tmp_path / name, "x")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real.txt").read_text() == "keep"
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode) and (tmp_path / "dir").is_dir()
    atomic.write_text(tmp_path / "link", "new", follow_symlinks=True)       # explicitly asked for
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["dir", "fifo", "link", "real.txt"]    # no temporary left


def test_cli_output_onto_a_device_node_is_one_line(tmp_path, capsys):
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    code, _, err = run(capsys, "golden", "lfsr:width=8", "--count", "4", "-o", node)
    assert code == 2 and err.count("\n") == 1 and "not replaced" in err
    assert stat.S_ISCHR(os.lstat(node).st_mode)


@pytest.mark.parametrize("name", ["../../x", "a b", "a/b", "..", ".x", "1abc", "x" * 65, "a.b", ""])
def test_gen_refuses_names_that_are_not_safe_file_names(tmp_path, capsys, name):
    out = tmp_path / "deep" / "out"
    code, _, err = run(capsys, "gen", "lfsr:width=8", "-o", out, "--name", name)
    assert code == 2 and err.count("\n") == 1 and "--name" in err and "Traceback" not in err
    assert not any(p.suffix == ".v" for p in tmp_path.rglob("*"))


def test_gen_accepts_a_plain_identifier(tmp_path, capsys):
    code, _, _ = run(capsys, "gen", "lfsr:width=8", "-o", tmp_path, "--name", "my_lfsr2")
    assert code == 0 and "module my_lfsr2(" in (tmp_path / "my_lfsr2.v").read_text()
