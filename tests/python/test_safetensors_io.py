# tools/safetensors_io.py: round trips, byte-for-byte agreement with the committed fixtures (which
# the C++ reader reads), and every rule of the C++ reader, each with a file that breaks it.
import glob
import json
import os
import struct

import numpy as np
import pytest

from conftest import ROOT
from safetensors_io import (MAX_HEADER_BYTES, SafetensorsError, encode_safetensors, main,
                            read_safetensors, write_safetensors)


def raw_file(tmp_path, header, data=b"", header_len=None, name="t.safetensors"):
    """A file with the given header (a dict, or bytes taken as they are) and data buffer."""
    path = tmp_path / name
    if header is None:  # no length prefix at all
        path.write_bytes(data)
        return str(path)
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(text) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + text + data)
    return str(path)


def f32_entry(shape, begin):
    n = int(np.prod(shape)) * 4
    return {"dtype": "F32", "shape": list(shape), "data_offsets": [begin, begin + n]}


def test_round_trip_every_dtype_in_order(tmp_path):
    tensors = [
        ("f32", np.arange(6, dtype=np.float32).reshape(2, 3)),
        ("f64", np.array([1.5, -2.25])),
        ("f16", np.array([0.5, 65504], dtype=np.float16)),
        ("i64", np.array([[-(2**62), 7]], dtype=np.int64)),
        ("i32", np.array([-3, 2**31 - 1], dtype=np.int32)),
        ("u8", np.array([0, 255], dtype=np.uint8)),
        ("bool", np.array([True, False, True])),
        ("scalar", np.float32(3.0)),
        ("empty", np.zeros((0, 4), dtype=np.float32)),
        ("strided", np.arange(12, dtype=np.float32).reshape(3, 4).T),
    ]
    path = str(tmp_path / "all.safetensors")
    write_safetensors(path, tensors, {"source": "test", "n": 3})
    got, meta = read_safetensors(path)
    assert meta == {"source": "test", "n": "3"}
    assert list(got) == [n for n, _ in tensors]
    for name, arr in tensors:
        assert got[name].dtype == np.asarray(arr).dtype, name
        assert got[name].shape == np.shape(arr), name
        assert np.array_equal(got[name], arr), name
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8 + n - 1:8 + n] in (b"}", b" ")
    assert list(json.loads(raw[8:8 + n]))[0] == "__metadata__"
    assert not os.path.exists(path + ".tmp")


def test_big_endian_input_is_written_little_endian(tmp_path):
    arr = np.array([1.0, 2.0], dtype=">f4")
    data = encode_safetensors([("x", arr)])
    assert data.endswith(np.array([1.0, 2.0], dtype="<f4").tobytes())
    path = str(tmp_path / "x.safetensors")
    write_safetensors(path, {"x": arr})
    assert np.array_equal(read_safetensors(path)[0]["x"], [1.0, 2.0])


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**",
                                                               "*.safetensors"), recursive=True)))
def test_committed_files_read_and_encode_to_the_same_bytes(path):
    tensors, meta = read_safetensors(path)
    assert tensors
    assert encode_safetensors(tensors, meta) == open(path, "rb").read()


def test_bf16_is_decoded_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    path = raw_file(tmp_path, {"b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}},
                    bf16.tobytes())
    got = read_safetensors(path)[0]["b"]
    assert got.dtype == np.float32 and np.array_equal(got, values)


def test_overwrite_is_atomic_and_a_failed_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "m.safetensors")
    write_safetensors(path, [("a", np.ones(2, dtype=np.float32))])
    before = open(path, "rb").read()
    with pytest.raises(SafetensorsError, match='"a" given twice'):
        write_safetensors(path, [("a", np.ones(1, np.float32)), ("a", np.ones(1, np.float32))])
    assert open(path, "rb").read() == before
    write_safetensors(path, [("b", np.zeros(3, dtype=np.float32))])
    assert list(read_safetensors(path)[0]) == ["b"]
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]


@pytest.mark.parametrize("tensors, message", [
    ([("", np.ones(1, np.float32))], "cannot write a tensor with the name ''"),
    ([("__metadata__", np.ones(1, np.float32))], '"__metadata__" is reserved'),
    ([("c", np.ones(1, np.complex64))], 'tensor "c": cannot write dtype complex64'),
    ([("o", np.array(["x"], dtype=object))], 'tensor "o": cannot write dtype object'),
])
def test_writer_rejects(tensors, message):
    with pytest.raises(SafetensorsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        encode_safetensors(tensors)


def test_reader_names_a_missing_file(tmp_path):
    with pytest.raises(SafetensorsError, match="nope.safetensors: cannot open safetensors file"):
        read_safetensors(str(tmp_path / "nope.safetensors"))


@pytest.mark.parametrize("header, data, header_len, message", [
    (None, b"\x01\x02", None, "file is 2 bytes, too short for a safetensors file"),
    (b"{}", b"", MAX_HEADER_BYTES + 1, f"header length {MAX_HEADER_BYTES + 1} is absurd"),
    (b"{}", b"", 64, "header length 64 is larger than the file"),
    (b"{\"a\": ", b"", None, "header is not valid JSON"),
    (b"\xff{}", b"", None, "header is not valid UTF-8"),
    ([1, 2], b"", None, "header must be a JSON object"),
    (b'{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, '
     b'"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}', b"\0" * 4, None,
     'duplicate key "a"'),
    (b'{"a": {"dtype": "F32", "dtype": "F32", "shape": [], "data_offsets": [0, 4]}}', b"\0" * 4,
     None, 'duplicate key "dtype"'),
    ({"__metadata__": ["x"]}, b"", None, '"__metadata__" must be an object of strings'),
    ({"__metadata__": {"k": 1}}, b"", None, 'metadata "k" must be a string'),
    ({"a": [1]}, b"", None, 'tensor "a": entry must be a JSON object'),
    ({"a": {"shape": [], "data_offsets": [0, 4]}}, b"", None, 'tensor "a": missing "dtype"'),
    ({"a": {"dtype": 5, "shape": [], "data_offsets": [0, 4]}}, b"", None,
     '"dtype" must be a string'),
    ({"a": {"dtype": "Q8", "shape": [], "data_offsets": [0, 4]}}, b"", None,
     'unknown dtype "Q8"'),
    ({"a": {"dtype": "F32", "data_offsets": [0, 4]}}, b"", None, 'missing "shape"'),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"", None,
     '"shape" must be a list of non-negative integers'),
    ({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"", None,
     '"shape" must be a list of non-negative integers'),
    ({"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}, b"", None,
     '"shape" must be a list of non-negative integers'),
    ({"a": {"dtype": "F32", "shape": 3, "data_offsets": [0, 4]}}, b"", None,
     '"shape" must be a list of non-negative integers'),
    ({"a": {"dtype": "F32", "shape": [2**63], "data_offsets": [0, 4]}}, b"", None,
     '"shape" must be a list of non-negative integers'),
    ({"a": {"dtype": "F32", "shape": []}}, b"", None, 'missing "data_offsets"'),
    ({"a": {"dtype": "F32", "shape": [], "data_offsets": [0]}}, b"", None,
     '"data_offsets" must be two non-negative integers'),
    ({"a": {"dtype": "F32", "shape": [], "data_offsets": [-4, 0]}}, b"", None,
     '"data_offsets" must be two non-negative integers'),
    ({"a": {"dtype": "F32", "shape": [], "data_offsets": [4, 0]}}, b"\0" * 4, None,
     r"data_offsets \[4, 0\] has begin > end"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, None,
     r"run past the end of the data buffer \(4 bytes; is the file truncated\?\)"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, None,
     r"span 4 bytes but F32 \[2\] needs 8"),
    ({"a": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 4]}}, b"\0" * 4, None,
     "needs 85070591730234615865843651857942052864"),
    ({"a": f32_entry([2], 0), "b": f32_entry([2], 4)}, b"\0" * 12, None,
     r'tensors "a" \(bytes \[0, 8\)\) and "b" \(bytes \[4, 12\)\) overlap'),
    ({"b": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}}, b"\x01\x00\x02", None,
     'tensor "b": BOOL byte 2 at index 2 is neither 0 nor 1'),
])
def test_reader_rejects(tmp_path, header, data, header_len, message):
    path = raw_file(tmp_path, header, data, header_len)
    with pytest.raises(SafetensorsError, match=message) as e:
        read_safetensors(path)
    assert str(e.value).startswith(path + ": ")


def test_reader_accepts_empty_tensors_anywhere_and_touching_spans(tmp_path):
    header = {"a": f32_entry([1], 0),
              "z": {"dtype": "F32", "shape": [0, 3], "data_offsets": [2, 2]},
              "b": f32_entry([1], 4)}
    path = raw_file(tmp_path, header, np.array([1, 2], dtype="<f4").tobytes())
    got = read_safetensors(path)[0]
    assert got["z"].shape == (0, 3) and got["a"][0] == 1 and got["b"][0] == 2


def test_main_prints_the_header(tmp_path, capsys):
    path = str(tmp_path / "p.safetensors")
    write_safetensors(path, [("w", np.zeros((2, 3), np.float32))], {"k": "v"})
    assert main(["safetensors_io.py", path]) == 0
    out = capsys.readouterr().out
    assert "metadata k = v" in out and "w float32 [2, 3]" in out
    bad = raw_file(tmp_path, b"{", name="bad.safetensors")
    assert main(["safetensors_io.py", bad]) == 1
    assert "header is not valid JSON" in capsys.readouterr().err
