#!/usr/bin/python3
"""Writes the tiny ModernBERT fixtures and their goldens:

  tests/fixtures/modernbert-tiny/      ModernBertModel as gte-modernbert-base / modernbert-embed-base
                                       ship it: tensor names without a prefix, F32, no biases,
                                       sentence-transformers mean pooling.
  tests/fixtures/modernbert-mlm-tiny/  ModernBertForMaskedLM as answerdotai/ModernBERT-base ships it:
                                       the encoder under "model.", the MLM head's tensors beside it,
                                       BF16, with every optional bias switched on and tanh GELU.
  tests/golden/modernbert-tiny.json, tests/golden/modernbert-mlm-tiny.json

The reference below is written from the published description of the model (transformers'
modeling_modernbert.py, eager attention path): embeddings = LayerNorm(tok_embeddings[id]); each
layer  x += Wo(attn(attn_norm(x)))  with attn_norm the identity on layer 0, fused Wqkv, rotary
(rotate-half, float32 angles) with global_rope_theta on global layers and local_rope_theta on local
ones, and on local layers (layer % global_attn_every_n_layers != 0) keys farther than
local_attention // 2 from the query masked out;  x += Wo(act(a) * g)  where (a, g) = Wi(mlp_norm(x))
split in halves;  final_norm(x). LayerNorms have no bias unless norm_bias.

No real weights can be had offline: each fixture is a seeded random model in the exact Hugging Face
layout, with the bert-tiny WordPiece tokenizer files (ModernBERT's own BPE tokenizer is not what is
tested here). Goldens are computed in float64 from the weights as stored (BF16 upcast exactly) on
ids from the independent tokenizer (wordpiece.py).

Run: /usr/bin/python3 tools/reference/make_modernbert.py   (deterministic; exits non-zero when a
self-check fails)
"""

import json
import os
import shutil
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKENIZER_DIR = os.path.join(REPO, "tests", "fixtures", "bert-tiny")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")

TEXTS = [
    "Hello",
    "Café déjà vu, naïve façade!",
    "The company was founded in 2016 and had 3,500 employees (12.5% growth) by 2020.",
    "Switchyard serves small embedding models: it tokenizes each request, batches requests that "
    "arrive together, runs the transformer encoder on a pool of threads, pools the token states "
    "into one vector per text, and normalises the result when the model asks for it.",
    "unaffable tokenization of supercalifragilisticexpialidocious words",
    "query: what is the capital of France? " * 12,
]


def config(n_layers, hidden, heads, inter, max_pos, local, every, act, dtype, bias, arch):
    """config.json with the keys the real ModernBERT repositories carry."""
    return dict(sorted({
        "architectures": [arch],
        "attention_bias": bias,
        "attention_dropout": 0.0,
        "bos_token_id": 101,
        "classifier_activation": "gelu",
        "classifier_bias": False,
        "classifier_dropout": 0.0,
        "classifier_pooling": "mean",
        "cls_token_id": 101,
        "decoder_bias": True,
        "deterministic_flash_attn": False,
        "embedding_dropout": 0.0,
        "eos_token_id": 102,
        "global_attn_every_n_layers": every,
        "global_rope_theta": 160000.0,
        "gradient_checkpointing": False,
        "hidden_activation": act,
        "hidden_size": hidden,
        "initializer_cutoff_factor": 2.0,
        "initializer_range": 0.02,
        "intermediate_size": inter,
        "layer_norm_eps": 1e-05,
        "local_attention": local,
        "local_rope_theta": 10000.0,
        "max_position_embeddings": max_pos,
        "mlp_bias": bias,
        "mlp_dropout": 0.0,
        "model_type": "modernbert",
        "norm_bias": bias,
        "norm_eps": 1e-05,
        "num_attention_heads": heads,
        "num_hidden_layers": n_layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "repad_logits_with_grad": False,
        "sep_token_id": 102,
        "sparse_pred_ignore_index": -100,
        "sparse_prediction": False,
        "torch_dtype": dtype,
        "transformers_version": "4.48.0",
        "vocab_size": 30522,
    }.items()))


FIXTURES = [
    {"name": "modernbert-tiny", "seed": 3001, "prefix": "", "mlm_head": False, "pooling": "mean",
     "config": config(4, 64, 4, 96, 128, 8, 2, "gelu", "float32", False, "ModernBertModel")},
    {"name": "modernbert-mlm-tiny", "seed": 3002, "prefix": "model.", "mlm_head": True, "pooling": None,
     "config": config(3, 64, 4, 80, 128, 16, 3, "gelu_new", "bfloat16", True, "ModernBertForMaskedLM")},
]

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def tensor_shapes(c, mlm_head):
    """Name -> shape of every tensor the checkpoint holds (encoder names without prefix; the MLM
    head's names with a leading '/' meaning: outside the encoder)."""
    h, i, b = c["hidden_size"], c["intermediate_size"], c["attention_bias"]
    s = {"embeddings.tok_embeddings.weight": (c["vocab_size"], h), "embeddings.norm.weight": (h,),
         "final_norm.weight": (h,)}
    if c["norm_bias"]:
        s["embeddings.norm.bias"] = (h,)
        s["final_norm.bias"] = (h,)
    for n in range(c["num_hidden_layers"]):
        p = f"layers.{n}."
        norms = ["mlp_norm"] + (["attn_norm"] if n > 0 else [])
        for nm in norms:
            s[p + nm + ".weight"] = (h,)
            if c["norm_bias"]:
                s[p + nm + ".bias"] = (h,)
        s[p + "attn.Wqkv.weight"] = (3 * h, h)
        s[p + "attn.Wo.weight"] = (h, h)
        if b:
            s[p + "attn.Wqkv.bias"] = (3 * h,)
            s[p + "attn.Wo.bias"] = (h,)
        s[p + "mlp.Wi.weight"] = (2 * i, h)
        s[p + "mlp.Wo.weight"] = (h, i)
        if c["mlp_bias"]:
            s[p + "mlp.Wi.bias"] = (2 * i,)
            s[p + "mlp.Wo.bias"] = (h,)
    if mlm_head:
        s["/head.dense.weight"] = (h, h)
        s["/head.norm.weight"] = (h,)
        if c["norm_bias"]:
            s["/head.norm.bias"] = (h,)
        s["/decoder.bias"] = (c["vocab_size"],)
    return s


def random_weights(c, mlm_head):
    out = {}
    for name, shape in sorted(tensor_shapes(c, mlm_head).items()):
        is_norm = "norm" in name
        if is_norm and name.endswith(".weight"):
            out[name] = 1.0 + 0.1 * torch.randn(shape)
        elif name.endswith(".bias"):
            out[name] = 0.02 * torch.randn(shape)
        else:
            out[name] = 0.05 * torch.randn(shape)
    return out


# ---------------------------------------------------------------- the reference model


def act_fn(name):
    if name == "gelu":
        return lambda x: F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    raise ValueError(name)


def rotary(c, theta, positions, dtype):
    """cos, sin [T, head_dim] as HF computes them: inv_freq and angles in float32."""
    dim = c["hidden_size"] // c["num_attention_heads"]
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def norm(w, name, x, c):
    return F.layer_norm(x, (x.shape[-1],), w[name + ".weight"], w.get(name + ".bias"), c["norm_eps"])


def linear(w, name, x):
    return F.linear(x, w[name + ".weight"], w.get(name + ".bias"))


def forward(c, w, ids, mask, local_override=None):
    """Last hidden state [B, T, H] of a right-padded batch (mask 1 = token)."""
    dtype = w["final_norm.weight"].dtype
    bsz, t = ids.shape
    h, nh = c["hidden_size"], c["num_attention_heads"]
    hd = h // nh
    x = norm(w, "embeddings.norm", w["embeddings.tok_embeddings.weight"][ids], c)
    pos = torch.arange(t)
    rope = {"global": rotary(c, c["global_rope_theta"], pos, dtype),
            "local": rotary(c, c["local_rope_theta"], pos, dtype)}
    keymask = mask.bool()[:, None, None, :]  # [B, 1, 1, T]
    dist = (pos[:, None] - pos[None, :]).abs()
    local = c["local_attention"] if local_override is None else local_override
    window = (dist <= local // 2)[None, None]
    act = act_fn(c["hidden_activation"])
    for n in range(c["num_hidden_layers"]):
        p = f"layers.{n}."
        is_global = n % c["global_attn_every_n_layers"] == 0
        a_in = x if n == 0 else norm(w, p + "attn_norm", x, c)
        qkv = linear(w, p + "attn.Wqkv", a_in).view(bsz, t, 3, nh, hd)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))  # [B, nh, T, hd]
        cos, sin = rope["global" if is_global else "local"]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        s = (q @ k.transpose(-1, -2)) * hd ** -0.5
        allowed = keymask if is_global else keymask & window
        s = s.masked_fill(~allowed, float("-inf"))
        pr = torch.softmax(s, dim=-1)
        pr = torch.nan_to_num(pr, nan=0.0)  # padding rows only
        o = (pr @ v).transpose(1, 2).reshape(bsz, t, h)
        x = x + linear(w, p + "attn.Wo", o)
        gi = linear(w, p + "mlp.Wi", norm(w, p + "mlp_norm", x, c))
        inp, gate = gi.chunk(2, dim=-1)
        x = x + linear(w, p + "mlp.Wo", act(inp) * gate)
    return norm(w, "final_norm", x, c)


def mean_pool(hs, mask):
    m = mask.to(hs.dtype).unsqueeze(-1)
    return (hs * m).sum(1) / m.sum(1).clamp(min=1e-9)


def make_batch(id_lists):
    t = max(len(x) for x in id_lists)
    ids = torch.zeros(len(id_lists), t, dtype=torch.long)
    mask = torch.zeros(len(id_lists), t, dtype=torch.long)
    for i, x in enumerate(id_lists):
        ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    return ids, mask


# ---------------------------------------------------------------- writing


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def write_fixture(fx):
    d = os.path.join(REPO, "tests", "fixtures", fx["name"])
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    c = fx["config"]
    write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(fx["seed"])
    w = random_weights(c, fx["mlm_head"])
    disk = TORCH_DTYPES[c["torch_dtype"]]
    named = {}
    for k, v in w.items():
        named[k[1:] if k.startswith("/") else fx["prefix"] + k] = v.to(disk)
    safetensors_io.save(os.path.join(d, "model.safetensors"), named)
    for f in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TOKENIZER_DIR, f), os.path.join(d, f))
    if fx["pooling"]:
        os.makedirs(os.path.join(d, "1_Pooling"))
        write_json(os.path.join(d, "1_Pooling", "config.json"), {
            "word_embedding_dimension": c["hidden_size"],
            "pooling_mode_cls_token": fx["pooling"] == "cls",
            "pooling_mode_mean_tokens": fx["pooling"] == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        })
        write_json(os.path.join(d, "modules.json"), [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ])
        write_json(os.path.join(d, "sentence_bert_config.json"),
                   {"max_seq_length": c["max_position_embeddings"], "do_lower_case": False})
    return d


def load_encoder_weights(d, prefix):
    """The encoder's tensors as stored, upcast to float64, names without the prefix."""
    weights, meta = safetensors_io.load(os.path.join(d, "model.safetensors"))
    if meta.get("format") != "pt":
        raise ValueError("format metadata")
    return {k[len(prefix):]: v.double() for k, v in weights.items() if k.startswith(prefix)}


def make(fx, failures):
    d = write_fixture(fx)
    c = fx["config"]
    w = load_encoder_weights(d, fx["prefix"])
    vocab = wordpiece.load_vocab(os.path.join(d, "vocab.txt"))
    id_lists = [wordpiece.encode(t, vocab, c["max_position_embeddings"]) for t in TEXTS]
    ids, mask = make_batch(id_lists)
    with torch.no_grad():
        hs = forward(c, w, ids, mask)
        emb = mean_pool(hs, mask)
        # Self-checks: one by one equals batched; the window matters for the long texts (a
        # window wider than any text changes them); float32 agrees with float64.
        worst_single = 0.0
        for i, x in enumerate(id_lists):
            si, sm = make_batch([x])
            worst_single = max(worst_single, (forward(c, w, si, sm)[0] - hs[i, :len(x)]).abs().max().item())
        wide = forward(c, w, ids, mask, local_override=4 * c["max_position_embeddings"])
        window_effect = max((wide[i, :len(x)] - hs[i, :len(x)]).abs().max().item()
                            for i, x in enumerate(id_lists))
        w32 = {k: v.float() for k, v in w.items()}
        d32 = max((forward(c, w32, ids, mask)[i, :len(x)].double() - hs[i, :len(x)]).abs().max().item()
                  for i, x in enumerate(id_lists))
        # Every encoder tensor influences the output.
        unused = []
        gen = torch.Generator().manual_seed(7)
        for name in sorted(w):
            saved = w[name].clone()
            w[name].add_(0.05 * torch.randn(w[name].shape, generator=gen, dtype=w[name].dtype))
            if (forward(c, w, ids, mask) - hs).abs().max().item() < 1e-9:
                unused.append(name)
            w[name].copy_(saved)
    print(f"{fx['name']}: lengths {[len(x) for x in id_lists]}, batched vs single {worst_single:.2e}, "
          f"window effect {window_effect:.3f}, f32 vs f64 {d32:.2e}, unused tensors {unused}")
    if worst_single > 1e-10:
        failures.append(fx["name"] + ": batched != single")
    if window_effect < 1e-3:
        failures.append(fx["name"] + ": the sliding window has no effect on these texts")
    if d32 > 1e-4:
        failures.append(fx["name"] + ": float32 reference far from float64")
    if unused:
        failures.append(fx["name"] + ": unused tensors " + ", ".join(unused))
    items = []
    for i, x in enumerate(id_lists):
        item = {"text": TEXTS[i], "ids": x, "last_hidden_state": hs[i, :len(x)].tolist()}
        if fx["pooling"] == "mean":
            item["sentence_embedding"] = emb[i].tolist()
        items.append(item)
    write_json(os.path.join(REPO, "tests", "golden", fx["name"] + ".json"), {
        "model": "tests/fixtures/" + fx["name"],
        "generator": "tools/reference/make_modernbert.py",
        "hidden": c["hidden_size"],
        "pooling": fx["pooling"],
        "notes": ("float64 forward of the ModernBERT reference (eager attention path of "
                  "modeling_modernbert.py) on the weights as stored; ids from wordpiece.py; "
                  "positions 0..len-1; sentence_embedding is sentence-transformers mean pooling."),
        "items": items,
    })


# ---------------------------------------------------------------- cross-encoder


CE = {"name": "modernbert-ce-tiny", "seed": 3003,
      "config": dict(sorted({**config(3, 64, 4, 96, 128, 8, 3, "gelu", "float32", False,
                                      "ModernBertForSequenceClassification"),
                             "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}.items()))}

PAIRS = [
    ("what is a switchyard?", "A switchyard is the part of a power station where lines are switched."),
    ("capital of france", "Paris is the capital and most populous city of France, on the Seine."),
    ("capital of france", "The quick brown fox jumps over the lazy dog near the old railway switchyard "
                          "while trains are sorted onto their tracks for the night."),
    ("hello", "hello"),
]


def encode_pair(q, d, vocab, max_len):
    """[CLS] q [SEP] d [SEP], the document cut first; ModernBERT has no token types."""
    qa = [vocab[t] for t in wordpiece.tokenize(q, vocab)]
    da = [vocab[t] for t in wordpiece.tokenize(d, vocab)]
    da = da[:max(0, max_len - 3 - len(qa))]
    return [vocab["[CLS]"]] + qa + [vocab["[SEP]"]] + da + [vocab["[SEP]"]]


def make_cross_encoder(failures):
    """ModernBertForSequenceClassification (as Alibaba-NLP/gte-reranker-modernbert-base): encoder
    under model., then pooling (classifier_pooling: cls = first token, mean = over the tokens),
    head = norm(act(dense(x))) with head.dense bias only with classifier_bias, classifier with a
    bias; one label: score = sigmoid(logit)."""
    c = CE["config"]
    d = os.path.join(REPO, "tests", "fixtures", CE["name"])
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(CE["seed"])
    w = random_weights(c, False)
    h = c["hidden_size"]
    full = {"model." + k: v.float() for k, v in w.items()}
    full["head.dense.weight"] = 0.1 * torch.randn(h, h)
    full["head.norm.weight"] = 1.0 + 0.1 * torch.randn(h)
    full["classifier.weight"] = 0.2 * torch.randn(1, h)
    full["classifier.bias"] = 0.02 * torch.randn(1)
    safetensors_io.save(os.path.join(d, "model.safetensors"), full)
    for f in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TOKENIZER_DIR, f), os.path.join(d, f))
    ws, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    ws = {k: v.double() for k, v in ws.items()}
    enc = {k[len("model."):]: v for k, v in ws.items() if k.startswith("model.")}
    vocab = wordpiece.load_vocab(os.path.join(d, "vocab.txt"))
    rows = []
    with torch.no_grad():
        for q, doc in PAIRS:
            ids = encode_pair(q, doc, vocab, c["max_position_embeddings"])
            t = torch.tensor([ids])
            hs = forward(c, enc, t, torch.ones_like(t))[0]
            x = hs[0] if c["classifier_pooling"] == "cls" else hs.mean(0)
            y = act_fn(c["classifier_activation"])(ws["head.dense.weight"] @ x)
            y = F.layer_norm(y, (h,), ws["head.norm.weight"], None, c["norm_eps"])
            logits = ws["classifier.weight"] @ y + ws["classifier.bias"]
            rows.append({"query": q, "document": doc, "input_ids": ids,
                         "token_type_ids": [0] * len(ids), "logits": [float(v) for v in logits],
                         "score": float(torch.sigmoid(logits[0]))})
    if max(len(r["input_ids"]) for r in rows) <= c["local_attention"]:
        failures.append("modernbert-ce-tiny: no pair is longer than the local window")
    write_json(os.path.join(REPO, "tests", "golden", CE["name"] + ".json"),
               {"model": "tests/fixtures/" + CE["name"], "generator": "tools/reference/make_modernbert.py",
                "num_labels": 1, "max_length": c["max_position_embeddings"], "pairs": rows})
    print(f"{CE['name']}: {len(rows)} pairs, lengths {[len(r['input_ids']) for r in rows]}, "
          f"scores {[round(r['score'], 4) for r in rows]}")


def main():
    failures = []
    for fx in FIXTURES:
        make(fx, failures)
    make_cross_encoder(failures)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
