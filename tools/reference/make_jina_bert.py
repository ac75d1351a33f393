#!/usr/bin/python3
"""Writes a tiny JinaBERT v2 fixture (tests/fixtures/jina-bert-tiny/, F16 on disk) and its golden
(tests/golden/jina-bert-tiny.json): seeded random weights in the exact layout of
jinaai/jina-embeddings-v2-small-en (JinaBertModel names, no prefix, pooler included), config.json
keys as that repository has them (model_type "bert", architectures JinaBertForMaskedLM, auto_map
to jinaai/jina-bert-implementation, position_embedding_type "alibi", feed_forward_type "geglu",
emb_pooler "mean"), the bert-tiny tokenizer files, mean pooling + Normalize. Six heads, so the
slopes of a head count that is not a power of two are used.

The reference below is written from jinaai/jina-bert-implementation's modeling_bert.py (eval):
  embeddings = LayerNorm(word[ids] + token_type[tt])  (no position table)
  ALiBi: slopes for n heads: with p the largest power of two <= n, start = 2^(-2^-(log2 p - 3)),
         slopes start * start^i for i < p, then the 2p-head series' slopes 0, 2, 4, ... for the
         n - p heads left; bias[h, i, j] = -slope_h * |j - i| (float32), the same in every layer.
  per layer: scores = q k^T / sqrt(d) + bias + mask (scaled_dot_product_attention);
             a = LayerNorm(output.dense(ctx) + x);
             [g | u] = gated_layers(a) (no bias; g the first intermediate_size columns);
             y = mlp.layernorm(wo(gelu(g) * u) + a), gelu the exact (erf) one.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_jina_bert.py
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
import make_mpnet  # noqa: E402
import models  # noqa: E402

NAME = "jina-bert-tiny"
IMPL = "jinaai/jina-bert-implementation--"


def config():
    return dict(sorted({
        "_name_or_path": "jinaai/jina-bert-implementation",
        "architectures": ["JinaBertForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "attn_implementation": "torch",
        "auto_map": {
            "AutoConfig": IMPL + "configuration_bert.JinaBertConfig",
            "AutoModel": IMPL + "modeling_bert.JinaBertModel",
            "AutoModelForMaskedLM": IMPL + "modeling_bert.JinaBertForMaskedLM",
            "AutoModelForSequenceClassification": IMPL + "modeling_bert.JinaBertForSequenceClassification",
        },
        "classifier_dropout": None,
        "emb_pooler": "mean",
        "feed_forward_type": "geglu",
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 96,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_max_length": 512,
        "model_type": "bert",
        "num_attention_heads": 6,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "position_embedding_type": "alibi",
        "torch_dtype": "float16",
        "transformers_version": "4.26.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": 30528,
    }.items()))


def slopes(n):
    def power_of_2(p):
        start = 2 ** (-(2 ** -(math.log2(p) - 3)))
        return [start * start ** i for i in range(p)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    p = 2 ** math.floor(math.log2(n))
    return power_of_2(p) + slopes(2 * p)[0::2][:n - p]


class Lin(nn.Module):
    def __init__(self, names, i, o, bias=True):
        super().__init__()
        for n in names:
            setattr(self, n, nn.Linear(i, o, bias=bias))


class SelfOut(nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        self.dense = nn.Linear(h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Attention(nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        setattr(self, "self", Lin(("query", "key", "value"), h, h))
        self.output = SelfOut(h, eps)


class GLU(nn.Module):
    def __init__(self, h, i, eps):
        super().__init__()
        self.gated_layers = nn.Linear(h, 2 * i, bias=False)
        self.wo = nn.Linear(i, h)
        self.layernorm = nn.LayerNorm(h, eps=eps)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c["hidden_size"], c["layer_norm_eps"])
        self.mlp = GLU(c["hidden_size"], c["intermediate_size"], c["layer_norm_eps"])


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))


class Pooler(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.dense = nn.Linear(h, h)


class JinaBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c["hidden_size"])

    def forward(self, ids, mask):
        c, nh = self.c, self.c["num_attention_heads"]
        e = self.embeddings
        x = e.LayerNorm(e.word_embeddings(ids) + e.token_type_embeddings(torch.zeros_like(ids)))
        t = ids.shape[1]
        dist = (torch.arange(t)[None, :] - torch.arange(t)[:, None]).abs()
        m = torch.tensor(slopes(nh), dtype=torch.float32) * -1
        bias = (m[:, None, None] * dist[None]).unsqueeze(0).to(x.dtype)
        ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
        inter = c["intermediate_size"]
        for L in self.encoder.layer:
            a = getattr(L.attention, "self")
            q, k, v = (models._split_heads(f(x), nh) for f in (a.query, a.key, a.value))
            s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias + ext
            ctx = models._merge_heads(torch.softmax(s, dim=-1) @ v)
            x = L.attention.output.LayerNorm(L.attention.output.dense(ctx) + x)
            gu = L.mlp.gated_layers(x)
            y = L.mlp.wo(F.gelu(gu[..., :inter]) * gu[..., inter:])
            x = L.mlp.layernorm(y + x)
        return x


def main():
    torch.set_num_threads(1)
    c = config()
    torch.manual_seed(3201)
    state = mf.random_state(JinaBertModel(c))
    for k in state:
        if k.endswith("mlp.layernorm.weight"):  # a LayerNorm gamma that random_state does not know
            state[k] = 1.0 + 0.1 * torch.randn(state[k].shape)
    failures = []
    # The same weights stored as F16 (the fixture the real checkpoints resemble) and F32.
    for name, disk, cfg in ((NAME, torch.float16, c), (NAME + "-f32", torch.float32, dict(c, torch_dtype="float32"))):
        d = eg.write_fixture_dir(name, cfg, state, disk, c["max_position_embeddings"])

        def build(dtype, d=d):
            m = JinaBertModel(c).to(dtype).eval()
            m.load_state_dict(eg.load_weights(d, dtype), strict=True)
            return m

        failures += eg.write_golden(name, d, build, make_mpnet.TEXTS, c["max_position_embeddings"],
                                    {"alibi_slopes": slopes(c["num_attention_heads"])})
    if failures:
        for f in failures:
            print("FAIL:", f)
        sys.exit(1)
    print("all self-checks passed")


if __name__ == "__main__":
    main()
