"""Streamed safetensors writing (checkpoints without a second copy in memory) and chunked atomic writes."""

import numpy as np
import pytest
from safetensors.numpy import load_file, save

from zoforge import atomic
from zoforge.host.safetensors_io import iter_dump, read_header, to_float32


def test_streamed_file_is_safetensors_and_equal_to_the_reference(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"b": rng.standard_normal((3, 5), dtype=np.float32), "a.weight": rng.standard_normal(7, dtype=np.float32),
               "t": rng.standard_normal((4, 6), dtype=np.float32).T}               # a transposed view
    atomic.write_chunks(tmp_path / "x.safetensors", iter_dump(tensors, metadata={"format": "pt"}))
    loaded = load_file(tmp_path / "x.safetensors")
    assert loaded.keys() == tensors.keys() and all(np.array_equal(loaded[k], tensors[k]) for k in tensors)
    ours = {k: to_float32(t, k) for k, t in read_header(tmp_path / "x.safetensors").items()}
    assert all(np.array_equal(ours[k], tensors[k]) for k in tensors)
    reference = save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata={"format": "pt"})
    assert (tmp_path / "x.safetensors").stat().st_size == len(reference)


def test_write_chunks_is_atomic(tmp_path):
    path = tmp_path / "f.bin"
    atomic.write_chunks(path, [b"old"])

    def failing():
        yield b"new data"
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        atomic.write_chunks(path, failing())
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    atomic.write_chunks(path, [b"a", memoryview(b"bc"), bytearray(b"d")])
    assert path.read_bytes() == b"abcd"
