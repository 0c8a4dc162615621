"""Safetensors: streamed writing (checkpoints without a second copy in memory), chunked atomic writes,
reading through safe_open (BF16 via ml_dtypes) with one-line errors for damaged files."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save

from zoforge import atomic
from zoforge.host.safetensors_io import SafetensorsError, iter_dump, read_header, to_float32


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


def _raw_file(path, dtype, shape, payload: bytes):
    header = json.dumps({"t": {"dtype": dtype, "shape": list(shape), "data_offsets": [0, len(payload)]}}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(len(header).to_bytes(8, "little") + header + payload)


def test_bf16_widens_exactly_for_every_pattern(tmp_path):
    pattern = np.arange(1 << 16, dtype=np.uint32).astype("<u2")
    _raw_file(tmp_path / "b.safetensors", "BF16", (256, 256), pattern.tobytes())
    (t,) = read_header(tmp_path / "b.safetensors").values()
    got = to_float32(t, "t")
    assert t.dtype == "BF16" and got.shape == (256, 256) and got.dtype == np.float32
    assert np.array_equal(got.ravel().view(np.uint32), pattern.astype(np.uint32) << 16)    # NaN payloads too


@pytest.mark.parametrize("dtype, numpy_type", [("F16", "<f2"), ("F64", "<f8"), ("F32", "<f4")])
def test_other_float_types_convert_like_numpy(tmp_path, dtype, numpy_type):
    values = np.random.default_rng(1).standard_normal(100).astype(numpy_type)
    _raw_file(tmp_path / "x.safetensors", dtype, (10, 10), values.tobytes())
    (t,) = read_header(tmp_path / "x.safetensors").values()
    assert np.array_equal(to_float32(t, "t"), values.astype(np.float32).reshape(10, 10))


@pytest.mark.parametrize("edit, message", [
    (lambda b: b[:7], "7 bytes is too short for a safetensors file"),
    (lambda b: b[:-2], "ends at byte 200 of the data but the file has only 198 data bytes"),
    (lambda b: b + b"xy", "2 bytes after the last tensor"),
    (lambda b: b[:8] + b"[" + b[9:], "header is not valid JSON"),
])
def test_damaged_files_are_one_line_naming_the_file(tmp_path, edit, message):
    _raw_file(tmp_path / "x.safetensors", "F32", (50,), np.zeros(50, np.float32).tobytes())
    f = tmp_path / "x.safetensors"
    f.write_bytes(edit(f.read_bytes()))
    with pytest.raises(SafetensorsError, match=message) as e:
        read_header(f)
    assert str(e.value).startswith(str(f)) and "\n" not in str(e.value)
