"""A small GGUF v3 writer, shared by the scripts that hand llama.cpp the same weights Switchyard
loads (bench/llama/make_models.py: the Qwen3 decoder shape of `make bench-llama`;
bench/llama/bert_gguf.py: the BERT shapes of `make bench`).

Written from the format's published description: the magic "GGUF", version 3, the tensor and
key/value counts, then typed key/value metadata (strings are a uint64 length and UTF-8 bytes;
arrays an element type, a count and the elements), then one info per tensor (name, dimensions
innermost first, ggml type, offset into the data section), then the data section aligned to
general.alignment (32 bytes here), every tensor's data starting aligned.

Tensor types written: F32, and Q8_0 (blocks of 32 weights along a row: one fp16 scale
max|w| / 127, then the 32 values round(w / scale) as int8), what llama.cpp's converter writes
for --outtype q8_0.
"""

import os
import struct

import numpy as np

# Metadata value types
UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
# ggml tensor types
F32, Q8_0 = 0, 8
# llama.cpp's general.file_type values for an all-F32 and a mostly-Q8_0 file
FILE_TYPE = {F32: 0, Q8_0: 7}
# llama.cpp's pooling types ({arch}.pooling_type)
POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3}
# llama.cpp's token types (tokenizer.ggml.token_type)
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3
ALIGN = 32

_SCALAR = {UINT32: "<I", INT32: "<i", FLOAT32: "<f", BOOL: "<?"}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    """One metadata entry; for ARRAY, value is (element type, list)."""
    out = _str(key) + struct.pack("<I", vtype)
    if vtype == STRING:
        return out + _str(value)
    if vtype == ARRAY:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == STRING:
            return out + b"".join(_str(x) for x in items)
        return out + np.asarray(items, dtype=_SCALAR[etype]).tobytes()
    return out + struct.pack(_SCALAR[vtype], value)


def q8_0(a):
    """Rows of a 2-D float32 array as Q8_0 blocks: fp16 scale, then 32 int8."""
    rows, cols = a.shape
    assert cols % 32 == 0, f"Q8_0 needs rows of a multiple of 32 values, not {cols}"
    blocks = a.reshape(rows, cols // 32, 32).astype(np.float32)
    d = np.abs(blocks).max(axis=2) / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
    q = np.round(blocks * inv[..., None]).astype(np.int8)
    rec = np.zeros((rows, cols // 32), dtype=[("d", "<f2"), ("q", "i1", (32,))])
    rec["d"] = d.astype(np.float16)
    rec["q"] = q
    return rec.tobytes()


def write(path, meta, tensors):
    """Writes a GGUF file: meta is a list of kv() entries (general.alignment is added here),
    tensors a list of (name, float32 numpy array in PyTorch's row-major shape, F32 or Q8_0)."""
    meta = list(meta) + [kv("general.alignment", UINT32, ALIGN)]
    infos, blobs, offset = [], [], 0
    for name, a, ttype in tensors:
        a = np.ascontiguousarray(a, dtype=np.float32)
        data = q8_0(a) if ttype == Q8_0 else a.astype("<f4").tobytes()
        dims = list(reversed(a.shape))  # innermost first
        infos.append(_str(name) + struct.pack("<I", len(dims)) +
                     b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ttype, offset))
        pad = (-len(data)) % ALIGN
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    with open(path + ".tmp", "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(meta)))
        for m in meta:
            f.write(m)
        for i in infos:
            f.write(i)
        f.write(b"\0" * ((-f.tell()) % ALIGN))
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)
