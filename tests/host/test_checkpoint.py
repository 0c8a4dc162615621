"""Checkpoints: round trips, HF key names and orientation, llm.c format, and every broken-file case."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from zoforge.host.checkpoint import (LLMC_MAGIC, CheckpointError, hf_tensors, load, load_hf, load_llmc,
                                     save_hf, save_llmc)
from zoforge.host.config import GPTConfig
from zoforge.host.model import GPT
from zoforge.host.params import Params

CFG = GPTConfig(block_size=8, vocab_size=50, n_layer=2, n_head=2, n_embd=8)     # Vp = 128


def _params(seed=0) -> Params:
    p = Params.init(CFG, seed)
    p.data += np.random.default_rng(seed).normal(0, 0.1, p.data.shape).astype(np.float32)
    p.wte[CFG.vocab_size:] = 0.0           # padded rows are not stored in the HF layout
    return p


def _same(a: Params, b: Params):
    np.testing.assert_array_equal(a.data, b.data)


# -- Hugging Face ----------------------------------------------------------------------------------

def test_hf_round_trip_and_layout(tmp_path):
    p = _params()
    save_hf(tmp_path, CFG, p)
    cfg, q = load_hf(tmp_path)
    assert cfg == CFG
    _same(p, q)
    stored = load_file(tmp_path / "model.safetensors")
    assert "lm_head.weight" not in stored                      # tied, as save_pretrained writes it
    assert set(stored) == {f"transformer.{k}" for k in hf_tensors(CFG, p)}
    np.testing.assert_array_equal(stored["transformer.h.1.attn.c_attn.weight"], p.qkvw[1].T)   # (in, out)
    assert stored["transformer.h.0.mlp.c_fc.weight"].shape == (8, 32)
    assert stored["transformer.h.0.mlp.c_proj.weight"].shape == (32, 8)
    assert stored["transformer.wte.weight"].shape == (50, 8)
    raw = json.loads((tmp_path / "config.json").read_text())
    assert raw["model_type"] == "gpt2" and raw["n_embd"] == 8 and raw["activation_function"] == "gelu_new"
    assert not list(tmp_path.glob(".*tmp"))                    # atomic writes leave no temporaries


def test_hf_without_prefix_with_buffers_and_tied_lm_head(tmp_path):
    p = _params()
    t = {k: np.ascontiguousarray(v) for k, v in hf_tensors(CFG, p).items()}
    t["h.0.attn.bias"] = np.tril(np.ones((1, 1, 8, 8), np.float32))       # the causal-mask buffer
    t["lm_head.weight"] = t["wte.weight"].copy()
    save_file(t, tmp_path / "model.safetensors")
    save_hf(tmp_path / "ref", CFG, p)
    (tmp_path / "config.json").write_text((tmp_path / "ref" / "config.json").read_text())
    _same(load(tmp_path)[1], p)


def test_hf_float16_and_bfloat16(tmp_path):
    p = _params()
    t = {k: np.ascontiguousarray(v) for k, v in hf_tensors(CFG, p).items()}
    save_hf(tmp_path, CFG, p)
    save_file({k: v.astype(np.float16) for k, v in t.items()}, tmp_path / "model.safetensors")
    _, q = load_hf(tmp_path)
    np.testing.assert_array_equal(q.qkvw, p.qkvw.astype(np.float16).astype(np.float32))
    _write_bf16(tmp_path / "model.safetensors", t)
    _, q = load_hf(tmp_path)
    bf = (p.data.view(np.uint32) & 0xFFFF0000).view(np.float32)          # truncated to bf16 by the writer
    np.testing.assert_array_equal(q.data, bf)


def _write_bf16(path, tensors):
    """A BF16 safetensors file written by hand (NumPy has no bfloat16)."""
    header, blobs, offset = {}, [], 0
    for k, v in tensors.items():
        b = (np.ascontiguousarray(v, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[k] = {"dtype": "BF16", "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


@pytest.fixture
def hf_dir(tmp_path):
    save_hf(tmp_path, CFG, _params())
    return tmp_path


def _rewrite(folder, mutate):
    t = load_file(folder / "model.safetensors")
    mutate(t)
    save_file(t, folder / "model.safetensors")


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.__setitem__("transformer.h.0.attn.c_attn.weight", np.zeros((24, 8), np.float32)),
     r"'transformer.h.0.attn.c_attn.weight' has shape \[24, 8\]; config.json implies \[8, 24\] \(HF Conv1D"),
    (lambda t: t.pop("transformer.h.1.ln_2.bias"), r"1 tensor\(s\) missing, first 'h.1.ln_2.bias'"),
    (lambda t: t.__setitem__("transformer.h.2.ln_1.weight", np.ones(8, np.float32)), "unexpected tensor"),
    (lambda t: t.__setitem__("lm_head.weight", np.ones((50, 8), np.float32)), "differs from wte.weight"),
    (lambda t: t.__setitem__("wte.weight", t["transformer.wte.weight"]), "appears twice"),
    (lambda t: t["transformer.ln_f.bias"].__setitem__(0, np.nan), "NaN or infinite"),
    (lambda t: t.__setitem__("transformer.ln_f.bias", np.zeros(8, np.int32)), "not a float type"),
])
def test_hf_mismatched_tensors(hf_dir, mutate, message):
    _rewrite(hf_dir, mutate)
    with pytest.raises(CheckpointError, match=message) as e:
        load_hf(hf_dir)
    assert str(hf_dir / "model.safetensors") in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("edit, message", [
    (lambda b: b[:7], "too short for a safetensors file"),
    (lambda b: b[:-100], "only .* data bytes .truncated"),
    (lambda b: b[:40], "header length .* does not fit"),
    (lambda b: b + b"junk", "4 bytes after the last tensor"),
])
def test_hf_truncated_or_padded_file(hf_dir, edit, message):
    f = hf_dir / "model.safetensors"
    f.write_bytes(edit(f.read_bytes()))
    with pytest.raises(CheckpointError, match=message):
        load(hf_dir)


def test_hf_garbage_file(hf_dir):
    (hf_dir / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"not json at all!")
    with pytest.raises(CheckpointError, match="header is not valid JSON"):
        load(hf_dir)
    (hf_dir / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match="header length"):
        load(hf_dir)


@pytest.mark.parametrize("change, message", [
    ({"activation_function": "relu"}, "activation_function='relu' is not supported"),
    ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon=1e-06 is not supported"),
    ({"model_type": "llama"}, "model_type='llama'"),
    ({"n_head": 3}, "n_embd=8 is not divisible by n_head=3"),
    ({"n_embd": None}, "missing 'n_embd'"),
    ({"n_layer": 3}, "missing, first 'h.2.ln_1.weight'"),
])
def test_hf_config_problems(hf_dir, change, message):
    raw = json.loads((hf_dir / "config.json").read_text())
    raw.update(change)
    if change.get("n_embd", 1) is None:
        del raw["n_embd"]
    (hf_dir / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=message):
        load(hf_dir)


def test_hf_missing_files(tmp_path):
    with pytest.raises(CheckpointError, match="config.json: not found"):
        load_hf(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match="model.safetensors: not found .pytorch_model.bin is not read"):
        load_hf(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        load_hf(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        load(tmp_path / "nope")


def test_transformers_loads_our_checkpoint(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    torch = pytest.importorskip("torch")
    p = _params()
    save_hf(tmp_path, CFG, p)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    tokens = np.random.default_rng(0).integers(0, CFG.vocab_size, (2, 8))
    with torch.no_grad():
        expected = hf(torch.tensor(tokens)).logits.numpy()
    np.testing.assert_allclose(GPT(CFG, p).logits(tokens), expected, atol=1e-5)


# -- llm.c -------------------------------------------------------------------------------------------

def test_llmc_round_trip_keeps_everything(tmp_path):
    p = _params()
    p.wte[CFG.vocab_size:] = 0.5                     # the padded rows are part of an llm.c file
    save_llmc(tmp_path / "m.bin", CFG, p)
    cfg, q = load(tmp_path / "m.bin")
    assert cfg == CFG
    _same(p, q)
    header = np.fromfile(tmp_path / "m.bin", dtype="<i4", count=8)
    assert header.tolist() == [LLMC_MAGIC, 3, 8, 50, 2, 2, 8, 128]
    assert (tmp_path / "m.bin").stat().st_size == 1024 + 4 * len(p)


def test_llmc_bfloat16(tmp_path):
    p = _params()
    header = np.zeros(256, "<i4")
    header[:8] = [LLMC_MAGIC, 5, 8, 50, 2, 2, 8, 128]
    (tmp_path / "m.bin").write_bytes(header.tobytes() + (p.data.view(np.uint32) >> 16).astype("<u2").tobytes())
    _, q = load_llmc(tmp_path / "m.bin")
    np.testing.assert_array_equal(q.data, (p.data.view(np.uint32) & 0xFFFF0000).view(np.float32))


def test_hf_and_llmc_agree(tmp_path):
    p = _params()
    save_hf(tmp_path / "hf", CFG, p)
    save_llmc(tmp_path / "m.bin", *load(tmp_path / "hf"))
    _same(load(tmp_path / "m.bin")[1], p)


@pytest.mark.parametrize("edit, message", [
    (lambda b: b[:-4], "truncated"),
    (lambda b: b + b"\0\0\0\0", "has trailing bytes"),
    (lambda b: b[:500], "shorter than the llm.c header"),
    (lambda b: struct.pack("<i", 20240327) + b[4:], "magic 20240327 is not llm.c's model magic"),
    (lambda b: b[:4] + struct.pack("<i", 4) + b[8:], "version 4 is not supported"),
    (lambda b: b[:28] + struct.pack("<i", 100) + b[32:], "padded_vocab_size=100"),
    (lambda b: b[:1024] + np.full(4, np.inf, np.float32).tobytes() + b[1040:], "NaN or infinite"),
])
def test_llmc_broken_files(tmp_path, edit, message):
    f = tmp_path / "m.bin"
    save_llmc(f, CFG, _params())
    f.write_bytes(edit(f.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as e:
        load(f)
    assert str(e.value).startswith(str(f)) and "\n" not in str(e.value)
