#!/usr/bin/env python3
"""The safetensors reader and writer of attnscope's Python tools (numpy only, no torch needed).

    8 bytes   N, the header length (unsigned, little-endian)
    N bytes   a JSON object {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
              ..., optional "__metadata__": {string: string}}, padded with spaces
    the rest  the data buffer; offsets are relative to its start, values little-endian, row-major

The reader checks what attnscope's C++ reader (src/io/safetensors.cc) checks, with the same
limits, and raises SafetensorsError naming the file and the tensor: a header length of at most
100,000,000 bytes that fits in the file, a JSON object without duplicate keys, string metadata,
a known dtype, a shape of non-negative integers, data_offsets [begin, end] inside the data
buffer that span exactly numel × dtype size bytes, no two tensors sharing bytes, BOOL bytes 0
or 1. It returns arrays in their own dtype (the C++ reader converts everything to fp32; BF16,
which numpy lacks, is returned as float32 here).

The writer writes F32, F64, F16, I64, I32, U8 and BOOL arrays in the order given, the JSON
header compact and padded with spaces to a multiple of 8 bytes (as the C++ writer does), and
replaces the file atomically (a temporary file, fsync, rename, fsync of the folder).

Use from tools/ (the script's own folder is on sys.path):

    from safetensors_io import read_safetensors, write_safetensors

and from scripts/ or anywhere else, by path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

Run as a program it prints a file's header: /usr/bin/python3 tools/safetensors_io.py FILE...
"""

import json
import os
import struct
import sys

import numpy as np

MAX_HEADER_BYTES = 100 * 1000 * 1000  # the reference reader's limit, as in the C++ reader

# safetensors dtype name -> numpy dtype (little-endian); BF16 is decoded by hand.
_READ_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),
}
_WRITE_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float64"): "F64",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file, or tensors that cannot be written."""


def _brief(value, limit=80):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_uint(value):
    # JSON true/false arrive as Python bools, which are ints: not sizes.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _no_duplicates(path):
    def hook(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise SafetensorsError(f'{path}: duplicate key "{key}" in the header')
            seen.add(key)
        return dict(pairs)
    return hook


def _parse_entry(path, name, entry, data_size):
    where = f'{path}: tensor "{name}"'
    if not isinstance(entry, dict):
        raise SafetensorsError(f"{where}: entry must be a JSON object, got {_brief(entry)}")
    if "dtype" not in entry:
        raise SafetensorsError(f'{where}: missing "dtype"')
    dtype = entry["dtype"]
    if not isinstance(dtype, str):
        raise SafetensorsError(f'{where}: "dtype" must be a string, got {_brief(dtype)}')
    if dtype not in _READ_DTYPES:
        raise SafetensorsError(f'{where}: unknown dtype "{dtype}" (supported: '
                               f'{", ".join(_READ_DTYPES)})')
    if "shape" not in entry:
        raise SafetensorsError(f'{where}: missing "shape"')
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(_is_uint(d) and d < 2**63 for d in shape):
        raise SafetensorsError(
            f'{where}: "shape" must be a list of non-negative integers, got {_brief(shape)}')
    if "data_offsets" not in entry:
        raise SafetensorsError(f'{where}: missing "data_offsets"')
    offsets = entry["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_uint, offsets))):
        raise SafetensorsError(f'{where}: "data_offsets" must be two non-negative integers '
                               f"[begin, end], got {_brief(offsets)}")
    begin, end = offsets
    if begin > end:
        raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] has begin > end")
    if end > data_size:
        raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] run past the end of the "
                               f"data buffer ({data_size} bytes; is the file truncated?)")
    need = _READ_DTYPES[dtype].itemsize
    for d in shape:  # Python integers do not overflow; numel × size is exact
        need *= d
    if need != end - begin:
        raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] span {end - begin} bytes "
                               f"but {dtype} {shape} needs {need}")
    return dtype, shape, begin, end


def read_safetensors(path):
    """Returns ({name: numpy array}, {metadata key: value}); raises SafetensorsError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot open safetensors file: {e.strerror}") from e
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: file is {len(raw)} bytes, too short for a safetensors "
                               f"file (the header length alone is 8 bytes)")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > MAX_HEADER_BYTES:
        raise SafetensorsError(f"{path}: header length {header_len} is absurd (limit "
                               f"{MAX_HEADER_BYTES} bytes); not a safetensors file?")
    if header_len > len(raw) - 8:
        raise SafetensorsError(f"{path}: header length {header_len} is larger than the file "
                               f"({len(raw) - 8} bytes after the length prefix)")
    try:
        header = json.loads(raw[8:8 + header_len].decode("utf-8"),
                            object_pairs_hook=_no_duplicates(path))
    except UnicodeDecodeError as e:
        raise SafetensorsError(f"{path}: header is not valid UTF-8: {e}") from e
    except json.JSONDecodeError as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from e
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header must be a JSON object, got {_brief(header)}")

    data = memoryview(raw)[8 + header_len:]
    metadata = {}
    entries = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise SafetensorsError(f'{path}: "__metadata__" must be an object of strings, '
                                       f"got {_brief(entry)}")
            for key, value in entry.items():
                if not isinstance(value, str):
                    raise SafetensorsError(
                        f'{path}: metadata "{key}" must be a string, got {_brief(value)}')
            metadata = dict(entry)
            continue
        entries.append((name,) + _parse_entry(path, name, entry, len(data)))

    # No two tensors may share bytes.
    spans = sorted((b, e, n) for n, _, _, b, e in entries if e > b)
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError(f'{path}: tensors "{n0}" (bytes [{b0}, {e0})) and "{n1}" '
                                   f"(bytes [{b1}, {e1})) overlap")

    tensors = {}
    for name, dtype, shape, begin, end in entries:
        arr = np.frombuffer(data[begin:end], dtype=_READ_DTYPES[dtype]).reshape(shape)
        if dtype == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif dtype == "BOOL":
            bad = np.flatnonzero(arr > 1)
            if bad.size:
                raise SafetensorsError(f'{path}: tensor "{name}": BOOL byte {arr.flat[bad[0]]} '
                                       f"at index {bad[0]} is neither 0 nor 1")
            arr = arr.view(np.bool_)
        tensors[name] = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return tensors, metadata


def encode_safetensors(tensors, metadata=None):
    """The file's bytes. tensors: (name, array) pairs or a dict, written in that order;
    metadata values are written as str(value)."""
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in items:
        if not isinstance(name, str) or not name:
            raise SafetensorsError(f"cannot write a tensor with the name {name!r}")
        if name == "__metadata__":
            raise SafetensorsError('"__metadata__" is reserved, not a tensor name')
        if name in header:
            raise SafetensorsError(f'tensor "{name}" given twice')
        arr = np.asarray(arr)  # (ascontiguousarray would turn a scalar into shape [1])
        if arr.dtype.newbyteorder("=") not in _WRITE_DTYPES:
            raise SafetensorsError(f'tensor "{name}": cannot write dtype {arr.dtype} (supported: '
                                   f'{", ".join(str(d) for d in _WRITE_DTYPES)})')
        dtype = _WRITE_DTYPES[arr.dtype.newbyteorder("=")]
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] + blobs)


def write_file_atomically(path, data):
    """Writes bytes to path + ".tmp", fsyncs, renames it over path and fsyncs the folder, so a
    crash leaves either the old file or the new one, never a truncated one."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_safetensors(path, tensors, metadata=None):
    """Writes tensors ((name, array) pairs or a dict, in order) and string metadata to path,
    atomically."""
    write_file_atomically(path, encode_safetensors(tensors, metadata))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print("usage: safetensors_io.py FILE...  (prints each file's metadata and tensors)")
        return 0 if len(argv) >= 2 else 2
    status = 0
    for path in argv[1:]:
        try:
            tensors, metadata = read_safetensors(path)
        except SafetensorsError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: {len(tensors)} tensors")
        for key, value in metadata.items():
            print(f"  metadata {key} = {value}")
        for name, arr in tensors.items():
            print(f"  {name} {arr.dtype} {list(arr.shape)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
