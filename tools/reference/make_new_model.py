#!/usr/bin/python3
"""Writes the tiny NewModel fixtures (model_type "new": GTE v1.5, stella_en_400M_v5) and their
golden, from an independent reference written from the published remote code
(Alibaba-NLP/new-impl, modeling.py): rotary embeddings with NTK scaling, fused qkv_proj (or
q/k/v_proj), post-norm layers, the gated MLP (up_gate_proj split into up then gate,
act(gate) * up, down_proj).

  tests/fixtures/new-tiny/        F32, laid out as stella_en_400M_v5 ships: modules.json with
                                  Transformer, Pooling (mean) and 2_Dense_64 (pytorch_model.bin,
                                  written by torch.save), a second head 2_Dense_16
                                  (model.safetensors), config_sentence_transformers.json with
                                  s2p_query / s2s_query prompts; rope_scaling ntk factor 2.
  tests/fixtures/new-bf16-tiny/   BF16 weights, pack_qkv false (q/k/v_proj), no rope_scaling,
                                  no token types, CLS pooling + Normalize.
  tests/golden/new-tiny.json      token ids, last hidden states and sentence embeddings of both.

The reference computes in float64 from the weights as stored (BF16 upcast exactly). Run with
Debian's PyTorch:  /usr/bin/python3 tools/reference/make_new_model.py
"""

import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIX = os.path.join(REPO, "tests", "fixtures")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
PROMPTS = {
    "s2p_query": "Instruct: Given a web search query, retrieve relevant passages that answer the query.\nQuery: ",
    "s2s_query": "Instruct: Retrieve semantically similar text.\nQuery: ",
}
TEXTS = [
    "Hello",
    "Café déjà vu, naïve façade!",
    "The company was founded in 2016 and had 3,500 employees (12.5% growth) by 2020.",
    # longer than the 64 positions the second fixture has, and most of the first one's 128
    "Switchyard serves small embedding models: it tokenizes each request, batches requests that "
    "arrive together, runs the transformer encoder on a pool of threads, pools the token states "
    "into one vector per text, and normalises the result when the model asks for it. Long inputs "
    "such as this one are cut at the model's position limit, keeping the final separator token, "
    "exactly as the reference tokenizer truncates them, and rotary positions reach far.",
    "what is the capital of France?",
]


def config(hidden, layers, heads, inter, max_pos, dtype, pack_qkv, rope_scaling, type_vocab):
    """config.json with the keys Alibaba-NLP/gte-large-en-v1.5 and stella_en_400M_v5 have."""
    return {
        "architectures": ["NewModel"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
            "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel",
            "AutoModelForMaskedLM": "Alibaba-NLP/new-impl--modeling.NewForMaskedLM",
            "AutoModelForMultipleChoice": "Alibaba-NLP/new-impl--modeling.NewForMultipleChoice",
            "AutoModelForQuestionAnswering": "Alibaba-NLP/new-impl--modeling.NewForQuestionAnswering",
            "AutoModelForSequenceClassification": "Alibaba-NLP/new-impl--modeling.NewForSequenceClassification",
            "AutoModelForTokenClassification": "Alibaba-NLP/new-impl--modeling.NewForTokenClassification",
        },
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": inter,
        "layer_norm_eps": 1e-12,
        "layer_norm_type": "layer_norm",
        "logn_attention_clip1": False,
        "logn_attention_scale": False,
        "max_position_embeddings": max_pos,
        "model_type": "new",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "pack_qkv": pack_qkv,
        "pad_token_id": 0,
        "position_embedding_type": "rope",
        "rope_scaling": rope_scaling,
        "rope_theta": 160000,
        "torch_dtype": dtype,
        "transformers_version": "4.39.1",
        "type_vocab_size": type_vocab,
        "unpad_inputs": True,
        "use_memory_efficient_attention": True,
        "vocab_size": 30528,
    }


def random_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]

    def mat(*shape, std=0.05):
        return torch.randn(*shape, generator=g) * std

    def gamma(n):
        return 1.0 + 0.1 * torch.randn(n, generator=g)

    w = {"embeddings.word_embeddings.weight": mat(V, H, std=0.5),
         "embeddings.LayerNorm.weight": gamma(H), "embeddings.LayerNorm.bias": mat(H)}
    if cfg["type_vocab_size"] > 0:
        w["embeddings.token_type_embeddings.weight"] = mat(cfg["type_vocab_size"], H, std=0.5)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        if cfg["pack_qkv"]:
            w[p + "attention.qkv_proj.weight"] = mat(3 * H, H, std=0.3)
            w[p + "attention.qkv_proj.bias"] = mat(3 * H)
        else:
            for n in "qkv":
                w[p + f"attention.{n}_proj.weight"] = mat(H, H, std=0.3)
                w[p + f"attention.{n}_proj.bias"] = mat(H)
        w[p + "attention.o_proj.weight"] = mat(H, H, std=0.2)
        w[p + "attention.o_proj.bias"] = mat(H)
        w[p + "mlp.up_gate_proj.weight"] = mat(2 * I, H, std=0.2)
        w[p + "mlp.down_proj.weight"] = mat(H, I, std=0.2)
        w[p + "mlp.down_proj.bias"] = mat(H)
        for n in ("attn_ln", "mlp_ln"):
            w[p + n + ".weight"] = gamma(H)
            w[p + n + ".bias"] = mat(H)
    return w


# ------------------------------------------------------------------ the reference (float64)


def rotary_inv_freq(cfg, dim):
    """Frequencies as NewEmbeddings builds them: NTK scaling (base * f, then / f^(2/d), or the
    mixed_b form) once the factor is above 1, float32 as torch computes them."""
    base = float(cfg["rope_theta"])
    rs = cfg.get("rope_scaling")
    f = float(rs["factor"]) if rs else 1.0
    mixed_b = rs.get("mixed_b") if rs else None
    if f > 1 and mixed_b is None:
        base = base * f
    inv = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    if f > 1:
        if mixed_b is None:
            inv = inv / f ** (2 / dim)
        else:
            a = torch.tensor(f).log() / (dim / 2) ** mixed_b
            inv = inv / (a * torch.arange(1, dim // 2 + 1).float() ** mixed_b).exp()
    return inv


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def forward(cfg, w, ids):
    """Last hidden state [T, H] of one sequence, in float64."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d, I, eps = H // nh, cfg["intermediate_size"], cfg["layer_norm_eps"]
    W = {k: v.double() for k, v in w.items()}
    T = len(ids)
    ids_t = torch.tensor(ids)
    x = W["embeddings.word_embeddings.weight"][ids_t]
    if cfg["type_vocab_size"] > 0:
        x = x + W["embeddings.token_type_embeddings.weight"][torch.zeros(T, dtype=torch.long)]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    inv = rotary_inv_freq(cfg, d)
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)  # float32, as the cache
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().double()[:, None, :], emb.sin().double()[:, None, :]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        if cfg["pack_qkv"]:
            qkv = x @ W[p + "attention.qkv_proj.weight"].T + W[p + "attention.qkv_proj.bias"]
            q, k, v = qkv.split(H, dim=-1)
        else:
            q, k, v = (x @ W[p + f"attention.{n}_proj.weight"].T + W[p + f"attention.{n}_proj.bias"]
                       for n in "qkv")
        q, k, v = (t.view(T, nh, d) for t in (q, k, v))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
        ctx = torch.einsum("hij,jhd->ihd", scores.softmax(-1), v).reshape(T, H)
        a = ctx @ W[p + "attention.o_proj.weight"].T + W[p + "attention.o_proj.bias"]
        x = layer_norm(x + a, W[p + "attn_ln.weight"], W[p + "attn_ln.bias"], eps)
        up, gate = (x @ W[p + "mlp.up_gate_proj.weight"].T).split(I, dim=-1)
        gate = torch.nn.functional.gelu(gate)  # erf GELU ("gelu")
        m = (gate * up) @ W[p + "mlp.down_proj.weight"].T + W[p + "mlp.down_proj.bias"]
        x = layer_norm(x + m, W[p + "mlp_ln.weight"], W[p + "mlp_ln.bias"], eps)
    return x


# ------------------------------------------------------------------ writing


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def tokenizer_files(dst):
    for n in TOKENIZER_FILES:
        shutil.copy(os.path.join(FIX, "bert-tiny", n), os.path.join(dst, n))


def st_files(dst, pooling, modules, max_seq, prompts):
    os.makedirs(os.path.join(dst, "1_Pooling"), exist_ok=True)
    modes = {m: False for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                                "weightedmean_tokens", "lasttoken")}
    modes[pooling] = True
    write_json(os.path.join(dst, "1_Pooling", "config.json"),
               {"word_embedding_dimension": None, **{f"pooling_mode_{k}": v for k, v in modes.items()},
                "include_prompt": True})
    write_json(os.path.join(dst, "modules.json"), modules)
    write_json(os.path.join(dst, "sentence_bert_config.json"),
               {"max_seq_length": max_seq, "do_lower_case": False})
    write_json(os.path.join(dst, "config_sentence_transformers.json"),
               {"__version__": {"sentence_transformers": "3.0.1", "transformers": "4.39.1",
                                "pytorch": "2.3.1"},
                "prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"})


def module(idx, path, kind):
    return {"idx": idx, "name": str(idx), "path": path,
            "type": f"sentence_transformers.models.{kind}"}


def dense_head(dst, folder, n_in, n_out, seed, as_bin):
    g = torch.Generator().manual_seed(seed)
    os.makedirs(os.path.join(dst, folder), exist_ok=True)
    sd = {"linear.weight": torch.randn(n_out, n_in, generator=g) * 0.2,
          "linear.bias": torch.randn(n_out, generator=g) * 0.05}
    write_json(os.path.join(dst, folder, "config.json"),
               {"in_features": n_in, "out_features": n_out, "bias": True,
                "activation_function": "torch.nn.modules.linear.Identity"})
    if as_bin:
        torch.save(sd, os.path.join(dst, folder, "pytorch_model.bin"))
    else:
        safetensors_io.save(os.path.join(dst, folder, "model.safetensors"), sd)
    return {k: v.double() for k, v in sd.items()}


def fixture(name, cfg, dtype, seed):
    dst = os.path.join(FIX, name)
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    w = random_weights(cfg, seed)
    w = {k: v.to(dtype) for k, v in w.items()}
    safetensors_io.save(os.path.join(dst, "model.safetensors"), w)
    write_json(os.path.join(dst, "config.json"), cfg)
    tokenizer_files(dst)
    return dst, w


def main():
    vocab = wordpiece.load_vocab(os.path.join(FIX, "bert-tiny", "vocab.txt"))
    golden = {"texts": TEXTS, "prompts": PROMPTS, "models": {}}

    # 1. stella's layout, F32.
    cfg = config(32, 3, 4, 48, 128, "float32", True, {"type": "ntk", "factor": 2.0}, 2)
    dst, w = fixture("new-tiny", cfg, torch.float32, 1)
    dense64 = dense_head(dst, "2_Dense_64", 32, 64, 11, as_bin=True)
    dense16 = dense_head(dst, "2_Dense_16", 32, 16, 12, as_bin=False)
    st_files(dst, "mean_tokens",
             [module(0, "", "Transformer"), module(1, "1_Pooling", "Pooling"),
              module(2, "2_Dense_64", "Dense")], 128, PROMPTS)
    # 2. BF16, separate q/k/v, plain rotary, CLS pooling + Normalize.
    cfg2 = config(32, 2, 2, 40, 64, "bfloat16", False, None, 0)
    dst2, w2 = fixture("new-bf16-tiny", cfg2, torch.bfloat16, 2)
    st_files(dst2, "cls_token",
             [module(0, "", "Transformer"), module(1, "1_Pooling", "Pooling"),
              module(2, "2_Normalize", "Normalize")], 64, {"query": "query: "})

    for name, c, weights, pooling, max_len in (("new-tiny", cfg, w, "mean", 128),
                                               ("new-bf16-tiny", cfg2, w2, "cls", 64)):
        out = {"ids": [], "hidden": [], "embeddings": []}
        for t in TEXTS:
            ids = wordpiece.encode(t, vocab, max_len)
            h = forward(c, weights, ids)
            pooled = h.mean(0) if pooling == "mean" else h[0]
            out["ids"].append(ids)
            out["hidden"].append([round(float(v), 7) for v in h.flatten()])
            if name == "new-tiny":
                e = pooled @ dense64["linear.weight"].T + dense64["linear.bias"]
                e16 = pooled @ dense16["linear.weight"].T + dense16["linear.bias"]
                out.setdefault("embeddings_dense16", []).append([float(v) for v in e16])
            else:
                e = pooled / pooled.norm()
            out["embeddings"].append([float(v) for v in e])
        if name == "new-tiny":
            # queries with the s2p_query prompt, as sentence-transformers joins prompt and text
            out["s2p_ids"], out["s2p_embeddings"] = [], []
            for t in TEXTS:
                ids = wordpiece.encode(PROMPTS["s2p_query"] + t, vocab, max_len)
                h = forward(c, weights, ids)
                e = h.mean(0) @ dense64["linear.weight"].T + dense64["linear.bias"]
                out["s2p_ids"].append(ids)
                out["s2p_embeddings"].append([float(v) for v in e])
        golden["models"][name] = out
        print(f"{name}: token counts {[len(i) for i in out['ids']]}")
    write_json(os.path.join(REPO, "tests", "golden", "new-tiny.json"), golden)


if __name__ == "__main__":
    main()
