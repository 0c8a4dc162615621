"""Checkpoints: Hugging Face GPT-2 directories and llm.c ``.bin`` files, in and out.

* Hugging Face: ``config.json`` + ``model.safetensors`` with HF key names (``wte.weight``,
  ``h.0.attn.c_attn.weight`` ..., with or without a ``transformer.`` prefix). HF's Conv1D stores weights
  ``(in, out)``; ours are ``(out, in)``, so the four matrices per layer are transposed on the way. The
  lm_head is tied to wte; a stored ``lm_head.weight`` must equal it. We write the layout
  ``GPT2LMHeadModel.save_pretrained`` writes, so ``from_pretrained`` loads our output.
* llm.c: 256 int32 header ``[20240326, version, maxT, V, L, NH, C, Vp]`` then all parameters in our very
  order (version 3 float32; version 5 bfloat16 is read too).

Loading either builds a complete new :class:`Params` or raises :class:`CheckpointError` (one line naming
the file and what is wrong): a half-loaded model never escapes. Writes are atomic per file; in an HF
directory the weights are written before config.json.
"""

from __future__ import annotations

import json
import os
import pathlib
import re

import numpy as np

from .. import atomic
from ..golden.spec import SpecError
from .config import LN_EPS, GPTConfig
from .params import Params, num_elements
from .safetensors_io import SafetensorsError, iter_dump, read_header, to_float32

__all__ = ["CheckpointError", "load", "load_hf", "save_hf", "load_llmc", "save_llmc", "hf_tensors",
           "LLMC_MAGIC"]

LLMC_MAGIC = 20240326
_LLMC_FP32, _LLMC_BF16 = 3, 5
_HEADER_INTS = 256
WEIGHTS, CONFIG = "model.safetensors", "config.json"
_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")

# Per-layer HF names -> (our tensor, transposed?)  (HF Conv1D is (in, out); ours (out, in))
_LAYER_KEYS = {
    "ln_1.weight": ("ln1w", False), "ln_1.bias": ("ln1b", False),
    "attn.c_attn.weight": ("qkvw", True), "attn.c_attn.bias": ("qkvb", False),
    "attn.c_proj.weight": ("attprojw", True), "attn.c_proj.bias": ("attprojb", False),
    "ln_2.weight": ("ln2w", False), "ln_2.bias": ("ln2b", False),
    "mlp.c_fc.weight": ("fcw", True), "mlp.c_fc.bias": ("fcb", False),
    "mlp.c_proj.weight": ("fcprojw", True), "mlp.c_proj.bias": ("fcprojb", False),
}
_TOP_KEYS = {"wte.weight": "wte", "wpe.weight": "wpe", "ln_f.weight": "lnfw", "ln_f.bias": "lnfb"}
# Buffers some checkpoints carry (the causal mask); not parameters.
_IGNORED = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")


class CheckpointError(ValueError):
    """A checkpoint cannot be loaded or saved; the one-line message names the file and the problem."""


# ----------------------------------------------------------------------------------------------------
# Hugging Face

def hf_tensors(config: GPTConfig, params: Params) -> dict[str, np.ndarray]:
    """Our parameters under HF names and orientation (views; transposed matrices are not copied)."""
    V = config.vocab_size
    out = {"wte.weight": params.wte[:V], "wpe.weight": params.wpe}
    for l in range(config.n_layer):
        for key, (name, transposed) in _LAYER_KEYS.items():
            view = params[name][l]
            out[f"h.{l}.{key}"] = view.T if transposed else view
    out["ln_f.weight"], out["ln_f.bias"] = params.lnfw, params.lnfb
    return out


def _hf_config_to_ours(raw: dict, where: pathlib.Path) -> GPTConfig:
    def need(*keys):
        for k in keys:
            if k in raw:
                return raw[k]
        raise CheckpointError(f"{where}: missing {keys[0]!r}")

    if raw.get("model_type", "gpt2") != "gpt2":
        raise CheckpointError(f"{where}: model_type={raw['model_type']!r} is not supported; need 'gpt2'")
    act = raw.get("activation_function", "gelu_new")
    if act not in _TANH_GELUS:
        raise CheckpointError(f"{where}: activation_function={act!r} is not supported; "
                              f"need one of {'|'.join(_TANH_GELUS)} (tanh GELU)")
    eps = raw.get("layer_norm_epsilon", LN_EPS)
    if not isinstance(eps, (int, float)) or abs(eps - LN_EPS) > 1e-12:
        raise CheckpointError(f"{where}: layer_norm_epsilon={eps!r} is not supported; need {LN_EPS}")
    n_embd = need("n_embd", "hidden_size")
    n_inner = raw.get("n_inner")
    if n_inner is not None and n_inner != 4 * n_embd:
        raise CheckpointError(f"{where}: n_inner={n_inner} is not supported; need null or 4*n_embd={4 * n_embd}")
    for flag, wanted in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                         ("add_cross_attention", False)):
        if raw.get(flag, wanted) != wanted:
            raise CheckpointError(f"{where}: {flag}={raw[flag]!r} is not supported; need {wanted}")
    try:
        return GPTConfig(block_size=need("n_positions", "n_ctx"), vocab_size=need("vocab_size"),
                         n_layer=need("n_layer", "num_hidden_layers"), n_head=need("n_head", "num_attention_heads"),
                         n_embd=n_embd)
    except SpecError as e:
        raise CheckpointError(f"{where}: {e}") from None


def _our_config_to_hf(config: GPTConfig) -> dict:
    eot = config.vocab_size - 1          # GPT-2's <|endoftext|> is its last token; the byte tokenizer's too
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": config.vocab_size, "n_positions": config.block_size, "n_ctx": config.block_size,
        "n_embd": config.n_embd, "n_layer": config.n_layer, "n_head": config.n_head, "n_inner": None,
        "activation_function": "gelu_new", "layer_norm_epsilon": LN_EPS,
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "initializer_range": 0.02,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True, "use_cache": True, "bos_token_id": eot, "eos_token_id": eot,
        "torch_dtype": "float32",
    }


def load_hf(path: str | os.PathLike) -> tuple[GPTConfig, Params]:
    """A Hugging Face GPT-2 directory (or its ``model.safetensors``, with config.json beside it)."""
    path = pathlib.Path(path)
    folder = path if path.is_dir() else path.parent
    weights = path if path.is_file() else folder / WEIGHTS
    cfg_file = folder / CONFIG
    if not cfg_file.is_file():
        raise CheckpointError(f"{cfg_file}: not found (a Hugging Face GPT-2 directory has {CONFIG} and {WEIGHTS})")
    if not weights.is_file():
        hint = (" (sharded checkpoints are not supported)" if (folder / f"{WEIGHTS}.index.json").exists()
                else " (pytorch_model.bin is not read: convert it to safetensors)"
                if (folder / "pytorch_model.bin").exists() else "")
        raise CheckpointError(f"{weights}: not found{hint}")
    try:
        raw = json.loads(cfg_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{cfg_file}: not readable JSON ({e})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{cfg_file}: not a JSON object")
    config = _hf_config_to_ours(raw, cfg_file)
    try:
        tensors = read_header(weights)
    except SafetensorsError as e:
        raise CheckpointError(str(e)) from None
    params = Params.zeros(config)
    expected = hf_tensors(config, params)
    found: set[str] = set()
    lm_head = None
    for key, t in tensors.items():
        name = key.removeprefix("transformer.")
        if name == "lm_head.weight" or key == "lm_head.weight":
            lm_head = (key, t)
            continue
        if _IGNORED.match(name):
            continue
        if name not in expected:
            raise CheckpointError(f"{weights}: unexpected tensor {key!r} (not a GPT-2 parameter for {config})")
        if name in found:
            raise CheckpointError(f"{weights}: tensor {name!r} appears twice (with and without 'transformer.')")
        dst = expected[name]
        if t.shape != dst.shape:
            hint = " (HF Conv1D weights are stored (in, out))" if name.endswith("weight") and len(t.shape) == 2 else ""
            raise CheckpointError(f"{weights}: tensor {key!r} has shape {list(t.shape)}; {CONFIG} implies "
                                  f"{list(dst.shape)}{hint}")
        try:
            dst[...] = to_float32(t, f"{weights}: tensor {key!r}")
        except SafetensorsError as e:
            raise CheckpointError(str(e)) from None
        found.add(name)
    missing = [k for k in expected if k not in found]
    if missing:
        raise CheckpointError(f"{weights}: {len(missing)} tensor(s) missing, first {missing[0]!r} "
                              f"(is it a GPT-2 checkpoint for {config}?)")
    if lm_head is not None:
        key, t = lm_head
        if t.shape != expected["wte.weight"].shape or not np.array_equal(to_float32(t, key), params.wte[:config.vocab_size]):
            raise CheckpointError(f"{weights}: {key!r} differs from wte.weight; only tied lm_head is supported")
    if not np.isfinite(params.data).all():
        raise CheckpointError(f"{weights}: contains NaN or infinite weights")
    return config, params


def save_hf(path: str | os.PathLike, config: GPTConfig, params: Params) -> pathlib.Path:
    """Write ``path/model.safetensors`` (HF names with the ``transformer.`` prefix, Conv1D orientation,
    tied lm_head omitted, as ``save_pretrained`` does) and ``path/config.json``."""
    folder = pathlib.Path(path)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder}: exists and is not a directory")
    tensors = {f"transformer.{k}": v for k, v in hf_tensors(config, params).items()}
    atomic.write_chunks(folder / WEIGHTS, iter_dump(tensors, metadata={"format": "pt"}))
    atomic.write_text(folder / CONFIG, json.dumps(_our_config_to_hf(config), indent=2) + "\n")
    return folder


# ----------------------------------------------------------------------------------------------------
# llm.c

def load_llmc(path: str | os.PathLike) -> tuple[GPTConfig, Params]:
    """An llm.c model file (``gpt2_124M.bin``: version 3 float32, or 5 bfloat16)."""
    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror})") from None
    if size < 4 * _HEADER_INTS:
        raise CheckpointError(f"{path}: {size} bytes is shorter than the llm.c header (1024 bytes); truncated?")
    header = np.fromfile(path, dtype="<i4", count=_HEADER_INTS)
    magic, version, maxT, V, L, NH, C, Vp = (int(v) for v in header[:8])
    if magic != LLMC_MAGIC:
        raise CheckpointError(f"{path}: magic {magic} is not llm.c's model magic {LLMC_MAGIC}")
    if version not in (_LLMC_FP32, _LLMC_BF16):
        raise CheckpointError(f"{path}: version {version} is not supported; need {_LLMC_FP32} (float32) "
                              f"or {_LLMC_BF16} (bfloat16)")
    try:
        config = GPTConfig(block_size=maxT, vocab_size=V, padded_vocab_size=Vp, n_layer=L, n_head=NH, n_embd=C)
    except SpecError as e:
        raise CheckpointError(f"{path}: header {e}") from None
    n = num_elements(config)
    width = 4 if version == _LLMC_FP32 else 2
    want = 4 * _HEADER_INTS + width * n
    if size != want:
        state = "truncated" if size < want else "has trailing bytes"
        raise CheckpointError(f"{path}: {size} bytes but the header ({config}) implies {want}: {state}")
    if version == _LLMC_FP32:
        data = np.fromfile(path, dtype="<f4", count=n, offset=4 * _HEADER_INTS).astype(np.float32, copy=False)
    else:
        half = np.fromfile(path, dtype="<u2", count=n, offset=4 * _HEADER_INTS)
        data = (half.astype(np.uint32) << 16).view(np.float32)
    if not np.isfinite(data).all():
        raise CheckpointError(f"{path}: contains NaN or infinite weights")
    return config, Params(config, np.ascontiguousarray(data))


def save_llmc(path: str | os.PathLike, config: GPTConfig, params: Params) -> pathlib.Path:
    """Write an llm.c version-3 (float32) model file."""
    path = pathlib.Path(path)
    header = np.zeros(_HEADER_INTS, dtype="<i4")
    header[:8] = [LLMC_MAGIC, _LLMC_FP32, config.block_size, config.vocab_size, config.n_layer,
                  config.n_head, config.n_embd, config.padded_vocab_size]
    atomic.write_chunks(path, (header.tobytes(), memoryview(params.data.astype("<f4", copy=False)).cast("B")))
    return path


# ----------------------------------------------------------------------------------------------------

def load(path: str | os.PathLike) -> tuple[GPTConfig, Params]:
    """Either format: a directory or ``.safetensors`` file is Hugging Face, anything else llm.c."""
    path = pathlib.Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: not found")
    if path.is_dir() or path.suffix == ".safetensors":
        return load_hf(path)
    return load_llmc(path)
