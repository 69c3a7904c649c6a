"""Hand-written reader and writer for the .safetensors format (no safetensors package).

Layout of a file:
    8 bytes   little-endian u64 N, the length of the JSON header
    N bytes   UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype", "shape",
              "data_offsets": [begin, end]}, ...}; offsets are relative to the first
              byte after the header
    rest      the tensor bytes, little-endian, row-major

The header is padded with spaces to a multiple of 8 bytes so that every tensor's data
starts 8-byte aligned when its offset is (the reference writer does the same), which
lets a C++ reader mmap the file and point straight into it.
"""

import json
import struct

import numpy as np

# safetensors dtype name -> numpy dtype of the stored element. BF16 has no numpy type:
# it is stored as its raw uint16 bit pattern and converted on the way in and out.
_NUMPY_OF = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

_NAME_OF = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


def float32_to_bf16_bits(x):
    """Round float32 values to bfloat16 (round to nearest, ties to even); returns uint16 bits.

    bf16 is the upper half of an f32. Adding 0x7FFF plus the lowest kept bit before
    truncating rounds to nearest with ties going to the even bf16 value. NaNs are mapped
    to a quiet NaN explicitly because the addition could carry a NaN payload into the
    exponent and turn it into infinity.
    """
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = (rounded & 0xFFFF).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    out[nan] = (((bits[nan] >> 16) & 0x8000) | 0x7FC0).astype(np.uint16)
    return out


def bf16_bits_to_float32(bits):
    """Widen bfloat16 bit patterns (uint16) to float32 exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def save_file(tensors, path, dtype=None, metadata=None):
    """Write a dict name -> numpy array to `path`.

    dtype: None keeps each array's own dtype; "F32" / "F16" / "BF16" (or a dict
    name -> dtype name) converts floating tensors on the way out. Integer tensors are
    never converted. metadata: str -> str pairs stored under "__metadata__".
    """
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, array in tensors.items():
        array = np.asarray(array)
        want = dtype.get(name) if isinstance(dtype, dict) else dtype
        if want is not None and array.dtype.kind == "f":
            stored_name = want
        else:
            stored_name = _NAME_OF.get(array.dtype)
            if stored_name is None:
                raise ValueError(f"{name}: unsupported dtype {array.dtype}")
        if stored_name == "BF16":
            data = float32_to_bf16_bits(array.astype(np.float32)).tobytes()
        elif stored_name in _NUMPY_OF:
            data = np.ascontiguousarray(array, dtype=_NUMPY_OF[stored_name]).tobytes()
        else:
            raise ValueError(f"{name}: unsupported dtype {stored_name}")
        header[name] = {
            "dtype": stored_name,
            "shape": [int(d) for d in array.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
        # Keep every tensor 8-byte aligned within the data section.
        pad = (-offset) % 8
        if pad:
            blobs.append(b"\0" * pad)
            offset += pad

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((-len(header_bytes)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, byte offset of the data)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    return header, metadata, 8 + n


def load_file(path, as_dtype=None):
    """Read every tensor of `path` into a dict name -> numpy array.

    BF16 tensors come back as float32 (exact). as_dtype (e.g. np.float64) converts all
    floating tensors after reading.
    """
    header, _, data_start = read_header(path)
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        stored = _NUMPY_OF.get(info["dtype"])
        if stored is None:
            raise ValueError(f"{name}: unsupported dtype {info['dtype']}")
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * stored.itemsize:
            raise ValueError(f"{name}: data_offsets span {end - begin} bytes, "
                             f"shape {shape} of {info['dtype']} needs "
                             f"{count * stored.itemsize}")
        chunk = raw[data_start + begin:data_start + end]
        array = np.frombuffer(chunk.tobytes(), dtype=stored).reshape(shape)
        if info["dtype"] == "BF16":
            array = bf16_bits_to_float32(array).reshape(shape)
        if as_dtype is not None and array.dtype.kind == "f":
            array = array.astype(as_dtype)
        out[name] = array
    del raw
    return out


def load_metadata(path):
    """The file's __metadata__ (str -> str), empty if absent."""
    return read_header(path)[1]
