"""Minimal reader and writer for the safetensors format, written here so that the reference
does not depend on the `safetensors` package (not installed) and so that the bytes we commit
are exactly what the format specification describes:

    [8 bytes: little-endian u64 N][N bytes: JSON header][raw tensor data]

The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, with offsets
relative to the first byte after the header, plus an optional "__metadata__" map of strings. The
header is padded with spaces to a multiple of 8 bytes, as the reference implementation does, so
that every tensor's data starts 8-byte aligned in the file. Data is little-endian and row-major.
"""

import json
import struct

import numpy as np
import torch

# Safetensors dtype name -> (torch dtype, bytes per element).
DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
}
TORCH_TO_NAME = {v[0]: k for k, v in DTYPES.items()}


def _tensor_bytes(t):
    """Returns the little-endian raw bytes of a contiguous tensor. BF16 has no numpy type, so it is
    reinterpreted as int16 (same size) before the copy; the bits are unchanged."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def save(path, tensors, metadata=None):
    """Writes `tensors` (name -> torch.Tensor) to `path`. Tensors are stored in name order."""
    header = {"__metadata__": dict(metadata if metadata is not None else {"format": "pt"})}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in TORCH_TO_NAME:
            raise ValueError(f"{path}: {name}: unsupported dtype {t.dtype}")
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": TORCH_TO_NAME[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def load(path):
    """Reads a safetensors file into (name -> torch.Tensor, metadata). Checks that the offsets
    tile the data section exactly, so a writer bug cannot go unnoticed."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    out = {}
    spans = []
    for name, info in header.items():
        tdtype, size = DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if e - b != count * size:
            raise ValueError(f"{path}: {name}: data_offsets span {e - b} bytes, expected {count * size}")
        spans.append((b, e))
        chunk = data[b:e]
        if tdtype == torch.bfloat16:
            arr = np.frombuffer(chunk, dtype="<i2").copy()
            t = torch.from_numpy(arr).view(torch.bfloat16)
        else:
            np_dtype = torch.empty(0, dtype=tdtype).numpy().dtype.newbyteorder("<")
            arr = np.frombuffer(chunk, dtype=np_dtype).astype(np_dtype.newbyteorder("="))
            t = torch.from_numpy(arr)
        out[name] = t.reshape(info["shape"])
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError(f"{path}: tensor data is not contiguous at byte {b}")
        pos = e
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes after tensor data")
    return out, metadata
