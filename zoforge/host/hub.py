"""Checkpoints by Hugging Face hub name (``--init gpt2``, ``--init openai-community/gpt2-medium``) through
``huggingface_hub`` (the ``hub`` extra) and its cache.

:func:`resolve_init` turns what a user gave to ``--init`` into a local path: an existing file or folder
is used as it is; a name that is not one and looks like a hub repository id is looked up in the hub's
cache first (``$HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``), so a model fetched once is used
offline, and downloaded into that cache otherwise. Only the files a GPT-2 needs are fetched: the
weights as safetensors, config.json and the tokenizer files. Without a network (or with
``HF_HUB_OFFLINE=1``) a model missing from the cache gives one line saying what to download and where.
"""

from __future__ import annotations

import os
import pathlib
import re

from .checkpoint import CONFIG, WEIGHTS, CheckpointError

__all__ = ["resolve_init", "is_hub_name", "cache_dir", "HUB_FILES"]

#: What a GPT-2 needs from a hub repository: weights, shape, and the tokenizer under Hugging Face's names.
HUB_FILES = (CONFIG, WEIGHTS, "vocab.json", "merges.txt")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?")
_TRUE = ("1", "ON", "YES", "TRUE")


def is_hub_name(text: str) -> bool:
    """``text`` is no local file or folder and reads as ``name`` or ``org/name`` (whose ``org`` is not a
    local folder either, so a mistyped run folder is reported as a missing path)."""
    path = pathlib.Path(text)
    if path.exists() or not _REPO_ID.fullmatch(text) or path.suffix in (".bin", ".safetensors"):
        return False
    return ".." not in text and ("/" not in text or not path.parent.exists())


def cache_dir() -> pathlib.Path:
    """The hub's cache folder, read from the environment when asked (as the hub reads it)."""
    from huggingface_hub import constants
    explicit = os.environ.get("HF_HUB_CACHE")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    return pathlib.Path(home).expanduser() / "hub" if home else pathlib.Path(constants.HF_HUB_CACHE)


def _offline() -> bool:
    from huggingface_hub import constants
    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE


def _complete(folder) -> pathlib.Path | None:
    folder = pathlib.Path(folder)
    return folder if all((folder / name).is_file() for name in (CONFIG, WEIGHTS)) else None


def _what_to_download(name: str, cache: pathlib.Path) -> str:
    return f"download it where there is a network: hf download {name} {' '.join(HUB_FILES)} --cache-dir {cache}"


def _cause(error: BaseException) -> str:
    """The first cause of a hub error (the connection refused, the 404), short."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:80]}" if text else type(error).__name__


def resolve_init(init: str | os.PathLike) -> pathlib.Path:
    """The local path of ``--init``: the path itself, or the hub cache's snapshot of a hub name."""
    text = str(init)
    if not is_hub_name(text):
        return pathlib.Path(init)
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise CheckpointError(f"--init {text}: no such file or folder; as a Hugging Face hub name it needs the "
                              "hub extra: pip install 'zoforge[hub]'") from None
    cache = cache_dir()
    try:
        found = _complete(snapshot_download(text, cache_dir=cache, allow_patterns=list(HUB_FILES),
                                            local_files_only=True))
    except Exception:                         # not cached (or a partial entry): try the hub below
        found = None
    if found is not None:
        return found
    if _offline():
        raise CheckpointError(f"--init {text}: not a local path and not in the Hugging Face cache {cache} "
                              f"(HF_HUB_OFFLINE is set); {_what_to_download(text, cache)}")
    try:
        folder = snapshot_download(text, cache_dir=cache, allow_patterns=list(HUB_FILES),
                                   endpoint=os.environ.get("HF_ENDPOINT") or None)
    except Exception as e:                    # no network, no such repository, refused ...: one line
        raise CheckpointError(f"--init {text}: not a local path and not in the Hugging Face cache {cache}; the hub "
                              f"did not give it ({_cause(e)}); {_what_to_download(text, cache)}") from None
    found = _complete(folder)
    if found is None:
        raise CheckpointError(f"--init {text}: the hub repository has no {WEIGHTS} with {CONFIG} (zoforge reads "
                              "GPT-2 checkpoints in safetensors)")
    return found
