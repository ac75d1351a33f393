#!/usr/bin/python3
"""Writes the tiny EmbeddingGemma fixture and its golden, from an independent reference written
from transformers' modeling_gemma3.py as EmbeddingGemma runs it (use_bidirectional_attention):
embeddings times sqrt(hidden); per layer input_layernorm, q/k/v projections, per-head q_norm /
k_norm, rotary (rope_theta on full-attention layers, rope_local_base_freq on sliding ones),
grouped-query attention scaled by query_pre_attn_scalar^-0.5, bidirectional, and on sliding
layers only keys at distance < sliding_window; post_attention_layernorm on the attention output
before the residual, then pre_feedforward_layernorm, the GELU-tanh gated MLP and
post_feedforward_layernorm before the residual; every RMSNorm scales by (1 + w); the final norm.

  tests/fixtures/embeddinggemma-tiny/  Gemma3TextModel layout (bare names), BF16, layer_types
                                       with sliding and full layers, sliding_window 8 (texts run
                                       past 100 tokens); sentence-transformers files as
                                       google/embeddinggemma-300m has them: mean pooling, two
                                       Dense layers without bias (Identity), Normalize, and the
                                       query / document prompts.
  tests/golden/embeddinggemma-tiny.json  ids, hidden states, embeddings, query and document
                                       embeddings with their prompts.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_gemma3.py
"""

import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_new_model as nm  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: ",
           "Retrieval-query": "task: search result | query: ", "STS": "task: sentence similarity | query: "}


def config():
    layers = 4
    return {
        "_sliding_window_pattern": 2,
        "architectures": ["Gemma3TextModel"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "final_logit_softcapping": None,
        "head_dim": 32,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 48,
        "initializer_range": 0.02,
        "intermediate_size": 80,
        "layer_types": ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)],
        "max_position_embeddings": 256,
        "model_type": "gemma3_text",
        "num_attention_heads": 3,
        "num_hidden_layers": layers,
        "num_key_value_heads": 1,
        "pad_token_id": 0,
        "query_pre_attn_scalar": 32,
        "rms_norm_eps": 1e-06,
        "rope_local_base_freq": 10000.0,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 8,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.57.0",
        "use_bidirectional_attention": True,
        "use_cache": True,
        "vocab_size": 30522,
    }


def random_weights(c, seed):
    g = torch.Generator().manual_seed(seed)
    H, I, V, nh, nkv, hd = (c["hidden_size"], c["intermediate_size"], c["vocab_size"],
                            c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"])

    def mat(*shape, std=0.05):
        return torch.randn(*shape, generator=g) * std

    def norm(n):  # Gemma's norms scale by (1 + w): weights near 0
        return 0.1 * torch.randn(n, generator=g)

    w = {"embed_tokens.weight": mat(V, H, std=0.1), "norm.weight": norm(H)}
    for i in range(c["num_hidden_layers"]):
        p = f"layers.{i}."
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                  "post_feedforward_layernorm"):
            w[p + n + ".weight"] = norm(H)
        w[p + "self_attn.q_proj.weight"] = mat(nh * hd, H, std=0.3)
        w[p + "self_attn.k_proj.weight"] = mat(nkv * hd, H, std=0.3)
        w[p + "self_attn.v_proj.weight"] = mat(nkv * hd, H, std=0.3)
        w[p + "self_attn.o_proj.weight"] = mat(H, nh * hd, std=0.2)
        w[p + "self_attn.q_norm.weight"] = norm(hd)
        w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "mlp.gate_proj.weight"] = mat(I, H, std=0.2)
        w[p + "mlp.up_proj.weight"] = mat(I, H, std=0.2)
        w[p + "mlp.down_proj.weight"] = mat(H, I, std=0.2)
    return w


def rms(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * (1.0 + w)


def rotary(T, hd, base):
    inv = 1.0 / (base ** (torch.arange(0, hd, 2).float() / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().double()[:, None, :], emb.sin().double()[:, None, :]


def forward(c, w, ids):
    H, nh, nkv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    W = {k: v.double() for k, v in w.items()}
    T = len(ids)
    x = W["embed_tokens.weight"][torch.tensor(ids)] * torch.tensor(H ** 0.5, dtype=torch.float32).double()
    ropes = {"full_attention": rotary(T, hd, c["rope_theta"]),
             "sliding_attention": rotary(T, hd, c["rope_local_base_freq"])}
    dist = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).abs()
    masks = {"full_attention": torch.zeros(T, T, dtype=torch.float64),
             "sliding_attention": torch.where(dist < c["sliding_window"], 0.0, float("-inf")).double()}
    for i in range(c["num_hidden_layers"]):
        p, kind = f"layers.{i}.", c["layer_types"][i]
        cos, sin = ropes[kind]
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, nh, hd)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, nkv, hd)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, nkv, hd)
        q = rms(q, W[p + "self_attn.q_norm.weight"], eps)
        k = rms(k, W[p + "self_attn.k_norm.weight"], eps)
        q = q * cos + nm.rotate_half(q) * sin
        k = k * cos + nm.rotate_half(k) * sin
        k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
        scores = torch.einsum("ihd,jhd->hij", q, k) * c["query_pre_attn_scalar"] ** -0.5 + masks[kind]
        ctx = torch.einsum("hij,jhd->ihd", scores.softmax(-1), v).reshape(T, nh * hd)
        a = ctx @ W[p + "self_attn.o_proj.weight"].T
        x = x + rms(a, W[p + "post_attention_layernorm.weight"], eps)
        h = rms(x, W[p + "pre_feedforward_layernorm.weight"], eps)
        gate = torch.nn.functional.gelu(h @ W[p + "mlp.gate_proj.weight"].T, approximate="tanh")
        m = (gate * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
        x = x + rms(m, W[p + "post_feedforward_layernorm.weight"], eps)
    return rms(x, W["norm.weight"], eps)


def main():
    vocab = wordpiece.load_vocab(os.path.join(nm.FIX, "bert-tiny", "vocab.txt"))
    c = config()
    dst = os.path.join(nm.FIX, "embeddinggemma-tiny")
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    w = {k: v.to(torch.bfloat16) for k, v in random_weights(c, 8).items()}
    safetensors_io.save(os.path.join(dst, "model.safetensors"), w)
    nm.write_json(os.path.join(dst, "config.json"), c)
    nm.tokenizer_files(dst)
    g = torch.Generator().manual_seed(9)
    dense = []
    for idx, (n_in, n_out) in ((2, (48, 96)), (3, (96, 48))):
        folder = f"{idx}_Dense"
        os.makedirs(os.path.join(dst, folder))
        wt = torch.randn(n_out, n_in, generator=g) * 0.15
        safetensors_io.save(os.path.join(dst, folder, "model.safetensors"), {"linear.weight": wt})
        nm.write_json(os.path.join(dst, folder, "config.json"),
                      {"in_features": n_in, "out_features": n_out, "bias": False,
                       "activation_function": "torch.nn.modules.linear.Identity"})
        dense.append(wt.double())
    nm.st_files(dst, "mean_tokens",
                [nm.module(0, "", "Transformer"), nm.module(1, "1_Pooling", "Pooling"),
                 nm.module(2, "2_Dense", "Dense"), nm.module(3, "3_Dense", "Dense"),
                 nm.module(4, "4_Normalize", "Normalize")], 256, PROMPTS)

    def embed(ids):
        h = forward(c, w, ids)
        e = h.mean(0) @ dense[0].T @ dense[1].T
        return h, e / e.norm()

    out = {"ids": [], "hidden": [], "embeddings": [], "query_embeddings": [], "document_embeddings": []}
    for t in nm.TEXTS:
        ids = wordpiece.encode(t, vocab, 256)
        h, e = embed(ids)
        out["ids"].append(ids)
        out["hidden"].append([round(float(v), 7) for v in h.flatten()])
        out["embeddings"].append([float(v) for v in e])
        for key, prompt in (("query_embeddings", PROMPTS["query"]), ("document_embeddings", PROMPTS["document"])):
            out[key].append([float(v) for v in embed(wordpiece.encode(prompt + t, vocab, 256))[1]])
    full = forward(c, w, out["ids"][3])
    narrow = dict(c, sliding_window=4)
    assert (forward(narrow, w, out["ids"][3]) - full).abs().max() > 1e-3, "the window changes nothing"
    print(f"embeddinggemma-tiny: token counts {[len(i) for i in out['ids']]}")
    nm.write_json(os.path.join(nm.REPO, "tests", "golden", "embeddinggemma-tiny.json"),
                  {"texts": nm.TEXTS, "prompts": PROMPTS, "models": {"embeddinggemma-tiny": out}})


if __name__ == "__main__":
    main()
