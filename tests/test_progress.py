"""The progress bars (tqdm): lines for logs, redraws on a terminal, nothing when disabled."""

import io
import time

from zoforge.progress import Progress, spinner


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_log_lines_about_every_5_percent_and_messages():
    out = io.StringIO()
    bar = Progress(40, enabled=True, label="pezo ", stream=out)
    bar.message("eval at step 0: loss 2.0")
    for step in range(1, 41):
        bar.update(step, 1.23456)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "eval at step 0: loss 2.0" and "\r" not in out.getvalue()
    assert len(lines) == 1 + 20 and all(line.startswith("pezo:") and "loss 1.2346" in line for line in lines[1:])
    assert "2/40" in lines[1] and "40/40" in lines[-1]


def test_resumed_run_counts_from_its_start():
    out = io.StringIO()
    bar = Progress(30, 10, stream=out)
    bar.update(11, 0.5, extra="lr 1e-3")
    bar.close()
    assert "11/30" in out.getvalue() and "lr 1e-3" in out.getvalue()


def test_terminal_redraws_in_place():
    out = Terminal()
    bar = Progress(5, label="adamw ", stream=out)
    bar.update(1, 3.0)
    bar.message("eval at step 1: loss 3.0")
    bar.update(5, 2.0)
    bar.close()
    text = out.getvalue()
    assert "\r" in text and "eval at step 1: loss 3.0\n" in text and "5/5" in text and text.endswith("\n")


def test_disabled_prints_nothing():
    out = Terminal()
    bar = Progress(5, enabled=False, stream=out)
    bar.update(1, 1.0)
    bar.message("eval")
    bar.close()
    with spinner("synthesis", every=0.01, stream=out, enabled=False):
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_spinner_says_running_for_in_logs():
    lines = []
    with spinner("synthesis", every=0.05, say=lines.append, stream=io.StringIO()):
        time.sleep(0.3)
    assert lines and all(line.startswith("synthesis running for ") and line.endswith(" s") for line in lines)


def test_spinner_on_a_terminal_shows_elapsed_time():
    out = Terminal()
    with spinner("place and route", every=0.05, stream=out):
        time.sleep(1.3)
    assert "place and route 00:01" in out.getvalue()
