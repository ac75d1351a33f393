"""Fixtures for the PyTorch zip checkpoint reader (src/model/formats/torch_ckpt.c, torch_pickle.c).

Writes, with the real torch.save (run with /usr/bin/python3, Debian's torch):
  tests/torch_ckpt/distilbert-tiny.bin  the state dict of tests/fixtures/distilbert-tiny
      (same tensors, same dtypes); the C test loads both formats and compares every tensor and
      the encoder output.
  tests/torch_ckpt/mixed.bin  small tensors of every dtype the reader accepts, a tied
      storage, a non-contiguous (transposed) view, an nn.Parameter and a storage offset; the
      values are arange(n) * scale so the test recomputes them.
  tests/torch_ckpt/mixed-deflate.bin  the same archive rewritten with every entry deflated.
  fuzz/corpus/torch_pickle/*  the data.pkl of the above, and fuzz/corpus/torch_zip/* the small
      archives.
Malicious pickles are built by hand in tests/test_torch_ckpt.c (nothing here runs them).
"""

import collections
import os
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
# Not under tests/fixtures: every folder there is a model directory.
OUT = os.path.join(ROOT, "tests", "torch_ckpt")


def mixed():
    sd = collections.OrderedDict()
    sd["f32"] = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5
    sd["f16"] = (torch.arange(6, dtype=torch.float32) * 0.25).to(torch.float16)
    sd["bf16"] = (torch.arange(5, dtype=torch.float32) * 2.0).to(torch.bfloat16)
    sd["f64"] = torch.arange(4, dtype=torch.float64) * 1.5
    sd["i64"] = torch.arange(3, dtype=torch.int64) - 1
    sd["i32"] = torch.arange(7, dtype=torch.int32)
    base = torch.arange(20, dtype=torch.float32)
    sd["tied_a"] = base[:10].view(2, 5)
    sd["tied_b"] = base[10:].view(5, 2)  # same storage, offset 10
    sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    sd["param"] = torch.nn.Parameter(torch.full((2,), 3.0), requires_grad=False)
    sd["scalar"] = torch.tensor(7.0)
    return sd


def deflate_copy(src, dst):
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            # a fixed date keeps the file byte-identical across runs
            out = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            out.compress_type = zipfile.ZIP_DEFLATED
            zo.writestr(out, zi.read(info.filename))


def main():
    os.makedirs(OUT, exist_ok=True)
    st = safetensors_io.load(os.path.join(ROOT, "tests", "fixtures", "distilbert-tiny",
                                          "model.safetensors"))
    tensors = st[0] if isinstance(st, tuple) else st
    sd = collections.OrderedDict((k, tensors[k]) for k in tensors)
    torch.save(sd, os.path.join(OUT, "distilbert-tiny.bin"))
    torch.save(mixed(), os.path.join(OUT, "mixed.bin"))
    deflate_copy(os.path.join(OUT, "mixed.bin"), os.path.join(OUT, "mixed-deflate.bin"))
    for name in ("torch_pickle", "torch_zip"):
        os.makedirs(os.path.join(ROOT, "fuzz", "corpus", name), exist_ok=True)
    for f in ("mixed.bin", "mixed-deflate.bin"):
        with zipfile.ZipFile(os.path.join(OUT, f)) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            with open(os.path.join(ROOT, "fuzz", "corpus", "torch_pickle",
                                   f.replace(".bin", ".pkl")), "wb") as o:
                o.write(z.read(pkl))
        with open(os.path.join(OUT, f), "rb") as i, \
                open(os.path.join(ROOT, "fuzz", "corpus", "torch_zip", f), "wb") as o:
            o.write(i.read())


if __name__ == "__main__":
    main()
