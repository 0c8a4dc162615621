"""`zoforge train --matmul npu-emu` runs end to end and matches the cpu backend within bf16 tolerance.

Every GEMM of the `small` model at B*T = 4*64 = 256 runs on the emulated NPU with the default design
(npu1-gpt2), the LM head zero-padded to the design's blocks; only attention's stacked products stay on
the CPU (checked below)."""

import json

import numpy as np

from zoforge.cli import main
from zoforge.host.backends import get_backend
from zoforge.host.config import preset
from zoforge.host.model import GPT


def train(tmp_path, matmul, optimizer):
    out = tmp_path / f"{matmul}-{optimizer}"
    code = main(["train", "--task", "synthetic", "--model", "small", "--optimizer", optimizer, "--steps", "3",
                 "--batch", "4", "--seq", "64", "--eval-interval", "3", "--matmul", matmul, "--no-progress",
                 "-o", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_npu_emu_training_matches_cpu(tmp_path):
    for optimizer in ("adamw", "pezo"):
        cpu, npu = train(tmp_path, "cpu", optimizer), train(tmp_path, "npu-emu", optimizer)
        assert len(cpu) == len(npu) >= 3
        for a, b in zip(cpu, npu):
            # bf16 inputs (8 mantissa bits) with fp32 accumulation: the loss moves by well under 1%.
            assert abs(a - b) <= 1e-2 * abs(a), (optimizer, cpu, npu)


def test_small_model_gemms_are_all_offloaded():
    backend = get_backend("npu-emu")
    tokens = np.random.default_rng(0).integers(0, 256, (4, 64))
    GPT(preset("small"), backend=backend).forward(tokens, tokens)
    total = backend.total()
    assert total.offloaded_flops == total.flops - total.stacked_flops > 0 and total.stacked_offloaded_flops == 0
    assert "GEMM FLOPs (100.0%)" in backend.summary()


# GPT-2's kinds of shapes at a test's size: 128 channels (blocks of the npu1-gpt2 design), B*T = 256 and
# an LM head over 66 column blocks, more than a shim BD repeats, so its transfers are split.
LM_HEAD_MODEL = "gpt:n_layer=1,n_head=2,n_embd=128,vocab_size=8448,block_size=64"


def test_every_gemm_is_offloaded_and_reported(tmp_path, capsys):
    for optimizer in ("adamw", "mezo", "pezo"):
        code = main(["train", "--task", "synthetic", "--model", LM_HEAD_MODEL, "--tokenizer", "bytes",
                     "--optimizer", optimizer,
                     "--steps", "1", "--batch", "4", "--seq", "64", "--eval-interval", "1", "--matmul", "npu-emu",
                     "--no-progress", "-o", str(tmp_path / optimizer)])
        out = capsys.readouterr().out
        assert code == 0
        line = next(s for s in out.splitlines() if s.startswith("matmul npu-emu:"))
        assert "GEMM FLOPs (100.0%)" in line, (optimizer, line)
