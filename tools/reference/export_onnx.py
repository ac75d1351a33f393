#!/usr/bin/python3
"""Exports the reference encoder (models.py) as ONNX, so that a benchmark can run exactly the same
weights in an ONNX runtime and in Switchyard's C engine.

Two ways to name the model:

  --fixture DIR   a Hugging Face directory (config.json + model.safetensors), e.g.
                  tests/fixtures/bert-tiny; weights stored as F16/BF16 are upcast to float32.
  --shape K=V...  a synthetic shape with seeded random weights, e.g.
                  layers=6 hidden=384 heads=12 ffn=1536 (the all-MiniLM-L6-v2 shape). Other keys:
                  arch=bert|roberta|distilbert|new|modernbert, vocab=30522, max_pos=512, act=gelu,
                  seed=1234, dtype=float32|float16|bfloat16 (of the model.safetensors written);
                  for arch=new (NewModel, GTE v1.5) rope_theta=10000 and ntk=0 (the rope_scaling
                  ntk factor, 0: none); for arch=modernbert local=128 (local_attention) and
                  every=3 (global_attn_every_n_layers). The tool then also writes config.json,
                  model.safetensors and the bert-base-uncased tokenizer files into --out-dir, so
                  that the C engine can load the same model.

NewModel and ModernBERT are exported from the batched modules of onnx_encoders.py; before export
the tool checks them against the independent per-architecture references (make_new_model.forward,
make_modernbert.forward) in float64 on a padded batch longer than ModernBERT's window. For every
--shape export it also writes check.bin (one batch of token ids, in bench/run.sh's inputs format)
and check-ref.f32 (the reference's last hidden state of its real tokens, packed, float32), so that
the exported graph itself can be run in ONNX Runtime against the reference
(bench/peer/ort_bench.js --check).

The graph takes input_ids, attention_mask, token_type_ids (int64 [batch, sequence]) and returns
last_hidden_state (float32 [batch, sequence, hidden]); batch and sequence are dynamic axes.
Opset 14. The tool checks that the traced graph (the one ONNX export records) matches the eager
model on a batch of a different shape than the one it was traced with. The ONNX package is not
needed; ONNX outputs are benchmark inputs and are not committed.

Examples:
  /usr/bin/python3 tools/reference/export_onnx.py --fixture tests/fixtures/bert-tiny --out-dir /tmp/bt
  /usr/bin/python3 tools/reference/export_onnx.py --shape layers=6 hidden=384 heads=12 ffn=1536 \\
      --out-dir /tmp/minilm-shape
"""

import argparse
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402
import make_modernbert  # noqa: E402
import make_new_model  # noqa: E402
import models  # noqa: E402
import onnx_encoders  # noqa: E402
import safetensors_io  # noqa: E402

ROPE_ARCHS = ("new", "modernbert")


def parse_shape(items):
    spec = {"layers": 6, "hidden": 384, "heads": 12, "ffn": 1536, "arch": "bert", "vocab": 30522,
            "max_pos": 512, "act": "gelu", "seed": 1234, "dtype": "float32",
            "rope_theta": 10000.0, "ntk": 0.0, "local": 128, "every": 3}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"--shape: expected KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        if k not in spec:
            raise SystemExit(f"--shape: unknown key {k!r} (known: {', '.join(spec)})")
        spec[k] = type(spec[k])(v)
    return spec


def rope_config(spec):
    """config.json of a NewModel or ModernBERT shape, with the keys the real models carry."""
    if spec["arch"] == "new":
        ntk = {"type": "ntk", "factor": spec["ntk"]} if spec["ntk"] > 0 else None
        c = make_new_model.config(spec["hidden"], spec["layers"], spec["heads"], spec["ffn"],
                                  spec["max_pos"], spec["dtype"], True, ntk, 0)
        c.update({"rope_theta": spec["rope_theta"], "vocab_size": spec["vocab"], "hidden_act": spec["act"],
                  "unpad_inputs": False, "use_memory_efficient_attention": False})
        return c
    c = make_modernbert.config(spec["layers"], spec["hidden"], spec["heads"], spec["ffn"], spec["max_pos"],
                               spec["local"], spec["every"], spec["act"], spec["dtype"], False,
                               "ModernBertModel")
    c["vocab_size"] = spec["vocab"]
    return c


def synthetic(spec, out_dir, tokenizer_dir):
    """Writes a seeded random model of the given shape in Hugging Face layout; returns its dir."""
    if spec["arch"] in ROPE_ARCHS:
        c = rope_config(spec)
        make_fixtures.write_json(os.path.join(out_dir, "config.json"), c)
        torch.manual_seed(spec["seed"])
        # As Hugging Face initialises: normal(0, 0.02), norm weights near 1, in name order.
        state = {}
        for k, v in sorted(onnx_encoders.build(c).state_dict().items()):
            is_gamma = k.endswith(".weight") and ("norm" in k or "LayerNorm" in k or "_ln." in k)
            state[k] = 1.0 + 0.1 * torch.randn(v.shape) if is_gamma else 0.02 * torch.randn(v.shape)
        disk = make_fixtures.TORCH_DTYPES[spec["dtype"]]
        safetensors_io.save(os.path.join(out_dir, "model.safetensors"), {k: v.to(disk) for k, v in state.items()})
        for f in make_fixtures.TOKENIZER_FILES:
            shutil.copyfile(os.path.join(tokenizer_dir, f), os.path.join(out_dir, f))
        return out_dir
    max_pos = spec["max_pos"] + (2 if spec["arch"] == "roberta" else 0)
    c = make_fixtures.bert_config(spec["arch"], spec["layers"], spec["hidden"], spec["heads"], spec["ffn"],
                                  max_pos, spec["vocab"], spec["act"], spec["dtype"])
    make_fixtures.write_json(os.path.join(out_dir, "config.json"), c)
    torch.manual_seed(spec["seed"])
    state = make_fixtures.random_state(models.build(c))
    disk = make_fixtures.TORCH_DTYPES[spec["dtype"]]
    safetensors_io.save(os.path.join(out_dir, "model.safetensors"), {k: v.to(disk) for k, v in state.items()})
    for f in make_fixtures.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tokenizer_dir, f), os.path.join(out_dir, f))
    return out_dir


def load_model(d):
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    m = onnx_encoders.build(c) if c.get("model_type") in ROPE_ARCHS else models.build(c)
    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    m.load_state_dict({k: v.float() for k, v in w.items()}, strict=True)
    return m.float().eval(), c


class Wrapper(torch.nn.Module):
    """Fixes the three-input signature (DistilBERT ignores token_type_ids but keeps the input so
    every exported graph has the same interface)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m(input_ids, attention_mask, token_type_ids)


def example(batch, seq, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab, (batch, seq), generator=g)
    ids[:, 0] = 101
    mask = torch.ones(batch, seq, dtype=torch.long)
    for b in range(1, batch):
        n = max(2, seq - 3 * b)
        mask[b, n:] = 0
        ids[b, n:] = 0
        ids[b, n - 1] = 102
    return ids, mask, torch.zeros_like(ids)


def reference(model, c, ids, mask):
    """The last hidden state [B, T, H] in float64 of the architecture's independent reference
    (for the BERT family: the eager reference module of models.py, in float64)."""
    w = {k: v.double() for k, v in model.state_dict().items()}
    with torch.no_grad():
        if c.get("model_type") == "new":
            out = torch.zeros(ids.shape[0], ids.shape[1], c["hidden_size"], dtype=torch.float64)
            for b in range(ids.shape[0]):
                n = int(mask[b].sum())
                out[b, :n] = make_new_model.forward(c, w, ids[b, :n].tolist())
            return out
        if c.get("model_type") == "modernbert":
            return make_modernbert.forward(c, w, ids, mask)
        m64 = load_model_like(model, c).double()
        return m64(ids, mask, torch.zeros_like(ids))


def load_model_like(model, c):
    m = models.build(c)
    m.load_state_dict(model.state_dict(), strict=True)
    return m.eval()


def write_check(out_dir, ids, mask, ref):
    """check.bin (one batch, bench/run.sh's inputs format) and check-ref.f32 (packed real tokens)."""
    lens = [int(x) for x in mask.sum(1)]
    words = [0x31425953, 1, len(lens)] + lens
    rows = []
    for b, n in enumerate(lens):
        words += [int(x) for x in ids[b, :n]]
        rows.append(ref[b, :n])
    with open(os.path.join(out_dir, "check.bin"), "wb") as f:
        f.write(struct.pack("<%dI" % len(words), *words))
    torch.cat(rows).float().numpy().tofile(os.path.join(out_dir, "check-ref.f32"))


def main():
    ap = argparse.ArgumentParser(description="Export the reference encoder as ONNX (opset 14).")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--fixture", help="Hugging Face model directory to export")
    src.add_argument("--shape", nargs="+", metavar="KEY=VALUE", help="synthetic shape, e.g. layers=6 hidden=384")
    ap.add_argument("--out-dir", required=True, help="where model.onnx (and, with --shape, the HF files) go")
    ap.add_argument("--onnx-name", default="model.onnx")
    ap.add_argument("--shared", default=os.environ.get("SY_SHARED", os.path.join(make_fixtures.REPO, "..", "shared")))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    if args.shape:
        d = synthetic(parse_shape(args.shape), args.out_dir,
                      os.path.join(args.shared, "models", "bert-base-uncased-tokenizer"))
    else:
        d = args.fixture
    model, c = load_model(d)
    wrapped = Wrapper(model).eval()
    vocab = c["vocab_size"]
    if args.shape:
        # Longer than ModernBERT's local window, right-padded, ids that every vocabulary has.
        ids, mask, tt = example(3, 200, min(vocab, 30522), 3)
        for b, n in ((1, 130), (2, 9)):
            mask[b, n:] = 0
            ids[b, n:] = 0
            ids[b, n - 1] = 102
        ref = reference(model, c, ids, mask)
        with torch.no_grad():
            eager = wrapped(ids, mask, tt).double()
        keep = mask.bool().unsqueeze(-1).expand_as(eager)
        rdiff = (eager - ref).abs()[keep].max().item()
        print(f"eager float32 module vs the float64 reference on a [3, 200] batch: max abs diff {rdiff:.3e}")
        if rdiff > 1e-3:
            sys.exit("the exported module does not follow the reference")
        write_check(args.out_dir, ids, mask, ref)
    onnx_path = os.path.join(args.out_dir, args.onnx_name)
    trace_in = example(2, 16, vocab, 1)
    with torch.no_grad():
        torch.onnx.export(
            wrapped, trace_in, onnx_path,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "token_type_ids": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=14, do_constant_folding=True)
        # The exported graph is what tracing records; check that a trace made on one shape still
        # matches the eager model on another, which fails if a shape was frozen into the graph.
        traced = torch.jit.trace(wrapped, trace_in, check_trace=False)
        other = example(3, 29, vocab, 2)
        diff = (traced(*other) - wrapped(*other)).abs()
        diff = diff[other[1].bool().unsqueeze(-1).expand_as(diff)].max().item()
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) from {d}; "
          f"traced vs eager on a [3, 29] batch: max abs diff {diff:.3e}")
    if diff > 1e-5:
        sys.exit("the traced graph does not follow the eager model on a new shape")


if __name__ == "__main__":
    main()
