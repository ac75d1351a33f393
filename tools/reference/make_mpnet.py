#!/usr/bin/python3
"""Writes a tiny MPNet fixture (tests/fixtures/mpnet-tiny/, F32) and its golden
(tests/golden/mpnet-tiny.json): seeded random weights in the exact Hugging Face MPNetModel layout
(as sentence-transformers/all-mpnet-base-v2 stores them: no prefix, pooler included), config.json
keys as that repository has them, the bert-tiny tokenizer files, mean pooling + Normalize.

The reference below is written from transformers' modeling_mpnet.py (eval mode):
  positions: RoBERTa's create_position_ids_from_input_ids with padding_idx = pad_token_id (1):
             real tokens count from padding_idx + 1, pad tokens sit at padding_idx.
  embeddings = LayerNorm(word[ids] + position[positions]) (no token types).
  relative bias: rel = key position - query position; n = -rel; half the buckets for n < 0;
             |n| < max_exact (= num_buckets / 4) exact, else max_exact + int(log(|n| / max_exact) /
             log(128 / max_exact) * (num_buckets / 2 - max_exact)) capped at num_buckets / 2 - 1,
             computed in float32; the bias of head h is relative_attention_bias.weight[bucket, h],
             one table for all layers, computed from the padded batch positions.
  per layer: scores = q k^T / sqrt(d) + bias + mask; a = LayerNorm(o(ctx) + x);
             y = LayerNorm(output.dense(gelu(intermediate.dense(a))) + a).

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_mpnet.py
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder_golden as eg  # noqa: E402
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402

NAME = "mpnet-tiny"
TEXTS = [
    "Hello",
    "Café déjà vu, naïve façade!",
    "The company was founded in 2016 and had 3,500 employees (12.5% growth) by 2020.",
    # Longer than the 128 positions at which the relative buckets stop growing.
    "Switchyard serves small embedding models: it tokenizes each request, batches requests that "
    "arrive together, runs the transformer encoder on a pool of threads, pools the token states "
    "into one vector per text, and normalises the result when the model asks for it. Long inputs "
    "such as this one are cut at the model's position limit, keeping the final separator token, "
    "exactly as the reference tokenizer truncates them. MPNet adds to every attention score a "
    "learned bias chosen by how far apart the two tokens are, in buckets that grow with the "
    "distance and stop growing at one hundred and twenty eight positions, which this text passes "
    "by some way so that the last buckets are used too.",
]


def config():
    return dict(sorted({
        "_name_or_path": "microsoft/mpnet-base",
        "architectures": ["MPNetForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 202,
        "model_type": "mpnet",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 1,
        "relative_attention_num_buckets": 32,
        "torch_dtype": "float32",
        "transformers_version": "4.8.2",
        "vocab_size": 30527,
    }.items()))


def bucket(rel, num_buckets=32, max_distance=128):
    n = -rel
    half = num_buckets // 2
    ret = (n < 0).to(torch.long) * half
    n = n.abs()
    max_exact = half // 2
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                         * (half - max_exact)).to(torch.long)
    large = torch.clamp(large, max=half - 1)
    return ret + torch.where(n < max_exact, n, large)


class Attn(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))


class Attention(nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        self.attn = Attn(h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Dense(nn.Module):
    def __init__(self, i, o, eps=None):
        super().__init__()
        self.dense = nn.Linear(i, o)
        if eps is not None:
            self.LayerNorm = nn.LayerNorm(o, eps=eps)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, eps = c["hidden_size"], c["layer_norm_eps"]
        self.attention = Attention(h, eps)
        self.intermediate = Dense(h, c["intermediate_size"])
        self.output = Dense(c["intermediate_size"], h, eps)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.relative_attention_bias = nn.Embedding(c["relative_attention_num_buckets"],
                                                    c["num_attention_heads"])


class MPNetModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Dense(c["hidden_size"], c["hidden_size"])

    def forward(self, ids, mask):
        c, nh = self.c, self.c["num_attention_heads"]
        pad = c["pad_token_id"]
        keep = (ids != pad).long()
        pos = torch.cumsum(keep, dim=1) * keep + pad
        e = self.embeddings
        x = e.LayerNorm(e.word_embeddings(ids) + e.position_embeddings(pos))
        t = ids.shape[1]
        rel = torch.arange(t)[None, :] - torch.arange(t)[:, None]
        bias = self.encoder.relative_attention_bias(bucket(rel, c["relative_attention_num_buckets"]))
        bias = bias.permute(2, 0, 1).unsqueeze(0).to(x.dtype)
        ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        d = c["hidden_size"] // nh
        for L in self.encoder.layer:
            a = L.attention.attn
            q, k, v = (models._split_heads(f(x), nh) for f in (a.q, a.k, a.v))
            s = q @ k.transpose(-1, -2) / math.sqrt(d) + bias + ext
            ctx = models._merge_heads(torch.softmax(s, dim=-1) @ v)
            x = L.attention.LayerNorm(a.o(ctx) + x)
            y = L.output.dense(F.gelu(L.intermediate.dense(x)))
            x = L.output.LayerNorm(y + x)
        return x


def main():
    torch.set_num_threads(1)
    c = config()
    torch.manual_seed(3101)
    state = mf.random_state(MPNetModel(c))
    # Larger relative biases than the 0.02 init so that they visibly shape the attention.
    state["encoder.relative_attention_bias.weight"] *= 50
    max_len = models.max_tokens(dict(c, model_type="roberta"))
    rel = torch.arange(-300, 301)
    table = bucket(rel, c["relative_attention_num_buckets"])
    failures = []
    # The same weights stored as F32 and as BF16 (the golden of each from its own file).
    for name, disk, cfg in ((NAME, torch.float32, c), (NAME + "-bf16", torch.bfloat16, dict(c, torch_dtype="bfloat16"))):
        d = eg.write_fixture_dir(name, cfg, state, disk, max_len)

        def build(dtype, d=d):
            m = MPNetModel(c).to(dtype).eval()
            m.load_state_dict(eg.load_weights(d, dtype), strict=True)
            return m

        failures += eg.write_golden(name, d, build, TEXTS, max_len,
                                    {"bucket_distances": rel.tolist(), "buckets": table.tolist()})
    if failures:
        for f in failures:
            print("FAIL:", f)
        sys.exit(1)
    print("all self-checks passed")


if __name__ == "__main__":
    main()
