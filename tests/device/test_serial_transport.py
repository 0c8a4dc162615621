"""The serial path of ``--device BOARD:PORT`` over a real pseudo-terminal: pyserial opens the tty at the
board's baud rate, and on the other end a thread plays the board with the golden link model (a test
double for the absent board; the simulated board top covers the gateware)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from zoforge.golden.engine_model import EngineModel
from zoforge.golden.link import LinkModel
from zoforge.golden.spec import parse
from zoforge.device.run import load_weights

from ..host.cli_util import run


class PtyBoard:
    """A software board behind a pseudo-terminal: answers every frame with LinkModel."""

    def __init__(self, board):
        self.master, self._slave = os.openpty()       # the slave stays open: a pty with none hangs up
        self.port = os.ttyname(self._slave)
        self.model = LinkModel(EngineModel(parse(board.engine)), board.link)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            answer = self.model.feed(data)
            if answer:
                os.write(self.master, answer)

    def close(self):
        self._stop = True
        os.close(self._slave)
        os.close(self.master)


@pytest.fixture
def pty_board():
    from zoforge.boards.registry import get_board
    board = PtyBoard(get_board("icebreaker"))
    yield board
    board.close()


def test_training_over_a_serial_port_equals_golden(pty_board, tmp_path, capsys):
    args = ["--steps", "4", "--batch", "8", "--eval-interval", "0", "--no-progress"]
    code, out, err = run(capsys, "train", "--device", f"icebreaker:{pty_board.port}", *args, "-o", tmp_path / "tty")
    assert code == 0, err
    code, _, err = run(capsys, "train", "--device", "golden", *args, "-o", tmp_path / "golden")
    assert code == 0, err
    assert np.array_equal(load_weights(tmp_path / "tty" / "weights.safetensors")[0],
                          load_weights(tmp_path / "golden" / "weights.safetensors")[0])
    assert pty_board.model.counters.frames > 20


def test_a_missing_port_fails_in_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--device", "icebreaker:/dev/does-not-exist", "-o", tmp_path)
    assert code != 0 and err.count("\n") == 1 and "/dev/does-not-exist" in err and "Traceback" not in err


def test_a_board_with_another_engine_is_refused(capsys, tmp_path, pty_board):
    code, _, err = run(capsys, "train", "--device", f"icebreaker:{pty_board.port}", "--engine",
                       "engine:rng=pezo-pool-x2,words=512,eps_shift=5", "-o", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "spec hash" in err


def test_a_silent_port_fails_in_one_line(capsys, tmp_path):
    master, slave = os.openpty()                 # nobody answers on the other end
    try:
        code, _, err = run(capsys, "train", "--device", f"icebreaker:{os.ttyname(slave)}", "-o", tmp_path)
    finally:
        os.close(slave)
        os.close(master)
    assert code == 2 and err.count("\n") == 1 and "no valid answer" in err and "Traceback" not in err
