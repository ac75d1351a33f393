#!/usr/bin/python3
"""Writes the tiny NomicBERT fixtures (model_type "nomic_bert": nomic-embed-text-v1.5) and their
golden, from an independent reference written from the published modeling code
(nomic-ai/nomic-bert-2048, modeling_hf_nomic_bert.py): emb_ln over word + token type
embeddings, post-norm blocks with a fused Wqkv, rotary on rotary_emb_fraction of each head
(halves, or interleaved pairs), out_proj, and the gated MLP fc2(fc11(x) * act(fc12(x))).

  tests/fixtures/nomic-tiny/       F32, as nomic-embed-text-v1.5 is configured: swiglu, no
                                   biases, full rotary with base 1000, mean pooling +
                                   Normalize, no prompts file (the model card's
                                   "search_query: " / "search_document: " prefixes apply).
  tests/fixtures/nomic-f16-tiny/   F16, geglu, every bias on, rotary on half of each head with
                                   interleaved pairs, CLS pooling.
  tests/golden/nomic-tiny.json     token ids, last hidden states, sentence embeddings, and for
                                   the first fixture the embeddings with each prefix.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_nomic_bert.py
"""

import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_new_model as nm  # noqa: E402  (file writing helpers and texts)
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402


def config(hidden, layers, heads, inner, n_pos, dtype, act, bias, fraction, interleaved):
    """config.json with the keys nomic-ai/nomic-embed-text-v1.5 has."""
    return {
        "_name_or_path": "nomic-ai/nomic-bert-2048",
        "activation_function": act,
        "architectures": ["NomicBertModel"],
        "attn_pdrop": 0.0,
        "auto_map": {
            "AutoConfig": "nomic-ai/nomic-bert-2048--configuration_hf_nomic_bert.NomicBertConfig",
            "AutoModel": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertModel",
            "AutoModelForMaskedLM": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertForPreTraining",
        },
        "bos_token_id": None,
        "causal": False,
        "dense_seq_output": True,
        "embd_pdrop": 0.0,
        "eos_token_id": None,
        "fused_bias_fc": True,
        "fused_dropout_add_ln": True,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-12,
        "max_trained_positions": 2048,
        "mlp_fc1_bias": bias,
        "mlp_fc2_bias": bias,
        "model_type": "nomic_bert",
        "n_embd": hidden,
        "n_head": heads,
        "n_inner": inner,
        "n_layer": layers,
        "n_positions": n_pos,
        "pad_vocab_size_multiple": 64,
        "parallel_block": False,
        "parallel_block_tied_norm": False,
        "prenorm": False,
        "qkv_proj_bias": bias,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.0,
        "rotary_emb_base": 1000,
        "rotary_emb_fraction": fraction,
        "rotary_emb_interleaved": interleaved,
        "rotary_emb_scale_base": None,
        "rotary_scaling_factor": None,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.0,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": dtype,
        "transformers_version": "4.34.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "use_flash_attn": True,
        "use_rms_norm": False,
        "use_xentropy": True,
        "vocab_size": 30528,
    }


def random_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    H, I, V = cfg["n_embd"], cfg["n_inner"], cfg["vocab_size"]
    bias = cfg["qkv_proj_bias"]

    def mat(*shape, std=0.05):
        return torch.randn(*shape, generator=g) * std

    w = {"embeddings.word_embeddings.weight": mat(V, H, std=0.5),
         "embeddings.token_type_embeddings.weight": mat(2, H, std=0.5),
         "emb_ln.weight": 1 + 0.1 * torch.randn(H, generator=g), "emb_ln.bias": mat(H)}
    for i in range(cfg["n_layer"]):
        p = f"encoder.layers.{i}."
        w[p + "attn.Wqkv.weight"] = mat(3 * H, H, std=0.3)
        w[p + "attn.out_proj.weight"] = mat(H, H, std=0.2)
        w[p + "mlp.fc11.weight"] = mat(I, H, std=0.2)
        w[p + "mlp.fc12.weight"] = mat(I, H, std=0.2)
        w[p + "mlp.fc2.weight"] = mat(H, I, std=0.2)
        if bias:
            w[p + "attn.Wqkv.bias"] = mat(3 * H)
            w[p + "attn.out_proj.bias"] = mat(H)
            w[p + "mlp.fc11.bias"] = mat(I)
            w[p + "mlp.fc12.bias"] = mat(I)
            w[p + "mlp.fc2.bias"] = mat(H)
        for n in ("norm1", "norm2"):
            w[p + n + ".weight"] = 1 + 0.1 * torch.randn(H, generator=g)
            w[p + n + ".bias"] = mat(H)
    return w


def rotary(x, cos, sin, rot, interleaved):
    """flash-attn's apply_rotary_emb on the first rot dims of each head (x [T, nh, d])."""
    xr, rest = x[..., :rot], x[..., rot:]
    if interleaved:
        x1, x2 = xr[..., 0::2], xr[..., 1::2]
        c, s = cos[:, None, :], sin[:, None, :]
        out = torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)
    else:
        half = rot // 2
        x1, x2 = xr[..., :half], xr[..., half:]
        c, s = cos[:, None, :], sin[:, None, :]
        out = torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1)
    return torch.cat((out, rest), dim=-1)


def forward(cfg, w, ids):
    H, nh = cfg["n_embd"], cfg["n_head"]
    d, eps = H // nh, cfg["layer_norm_epsilon"]
    rot = int(d * cfg["rotary_emb_fraction"])
    W = {k: v.double() for k, v in w.items()}
    T = len(ids)
    x = W["embeddings.word_embeddings.weight"][torch.tensor(ids)]
    x = x + W["embeddings.token_type_embeddings.weight"][0]
    x = nm.layer_norm(x, W["emb_ln.weight"], W["emb_ln.bias"], eps)
    inv = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, rot, 2).float() / rot))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    cos, sin = freqs.cos().double(), freqs.sin().double()
    act = torch.nn.functional.silu if cfg["activation_function"] == "swiglu" else torch.nn.functional.gelu

    def lin(name, t):
        y = t @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    for i in range(cfg["n_layer"]):
        p = f"encoder.layers.{i}."
        qkv = lin(p + "attn.Wqkv", x).view(T, 3, nh, d)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
        q, k = rotary(q, cos, sin, rot, cfg["rotary_emb_interleaved"]), rotary(k, cos, sin, rot, cfg["rotary_emb_interleaved"])
        att = (torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)).softmax(-1)
        ctx = torch.einsum("hij,jhd->ihd", att, v).reshape(T, H)
        x = nm.layer_norm(x + lin(p + "attn.out_proj", ctx), W[p + "norm1.weight"], W[p + "norm1.bias"], eps)
        m = lin(p + "mlp.fc2", lin(p + "mlp.fc11", x) * act(lin(p + "mlp.fc12", x)))
        x = nm.layer_norm(x + m, W[p + "norm2.weight"], W[p + "norm2.bias"], eps)
    return x


def fixture(name, cfg, dtype, seed, pooling, modules):
    dst = os.path.join(nm.FIX, name)
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    w = {k: v.to(dtype) for k, v in random_weights(cfg, seed).items()}
    safetensors_io.save(os.path.join(dst, "model.safetensors"), w)
    nm.write_json(os.path.join(dst, "config.json"), cfg)
    nm.tokenizer_files(dst)
    nm.st_files(dst, pooling, modules, cfg["n_positions"], None)
    os.remove(os.path.join(dst, "config_sentence_transformers.json"))
    return w


def main():
    vocab = wordpiece.load_vocab(os.path.join(nm.FIX, "bert-tiny", "vocab.txt"))
    golden = {"texts": nm.TEXTS, "models": {}}
    cfg = config(32, 3, 4, 48, 128, "float32", "swiglu", False, 1.0, False)
    w = fixture("nomic-tiny", cfg, torch.float32, 3, "mean_tokens",
                [nm.module(0, "", "Transformer"), nm.module(1, "1_Pooling", "Pooling"),
                 nm.module(2, "2_Normalize", "Normalize")])
    cfg2 = config(48, 2, 4, 40, 64, "float16", "geglu", True, 0.5, True)
    w2 = fixture("nomic-f16-tiny", cfg2, torch.float16, 4, "cls_token",
                 [nm.module(0, "", "Transformer"), nm.module(1, "1_Pooling", "Pooling")])
    for name, c, weights, pooling in (("nomic-tiny", cfg, w, "mean"), ("nomic-f16-tiny", cfg2, w2, "cls")):
        out = {"ids": [], "hidden": [], "embeddings": []}
        prefixes = {"search_query": "search_query: ", "search_document": "search_document: "}
        for t in nm.TEXTS:
            ids = wordpiece.encode(t, vocab, c["n_positions"])
            h = forward(c, weights, ids)
            e = h.mean(0) if pooling == "mean" else h[0]
            if pooling == "mean":
                e = e / e.norm()
            out["ids"].append(ids)
            out["hidden"].append([round(float(v), 7) for v in h.flatten()])
            out["embeddings"].append([float(v) for v in e])
            if name == "nomic-tiny":
                for key, pre in prefixes.items():
                    hp = forward(c, weights, wordpiece.encode(pre + t, vocab, c["n_positions"]))
                    ep = hp.mean(0)
                    out.setdefault(key, []).append([float(v) for v in ep / ep.norm()])
        golden["models"][name] = out
        print(f"{name}: token counts {[len(i) for i in out['ids']]}")
    nm.write_json(os.path.join(nm.REPO, "tests", "golden", "nomic-tiny.json"), golden)


if __name__ == "__main__":
    main()
