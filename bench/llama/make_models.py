#!/usr/bin/python3
"""Writes one random-weight decoder embedder in the two layouts the llama.cpp comparison
(bench/llama/run.sh) loads, from the same tensors:

  OUT/hf/             Hugging Face layout as Qwen/Qwen3-Embedding-0.6B ships it (config.json,
                      model.safetensors in float32, tokenizer.json): what Switchyard loads
  OUT/model-f32.gguf  GGUF v3 for llama.cpp, architecture qwen3, last-token pooling, all float32
  OUT/model-q8_0.gguf the same with every matrix in Q8_0 (blocks of 32 weights, one fp16 scale
                      max|w|/127, round(w / scale)), the norms in float32, as llama.cpp's
                      converter writes --outtype q8_0

The shape is Qwen3-Embedding-0.6B's (28 layers, hidden 1024, 16 query heads on 8 key/value
heads of 128, MLP 3072, rope_theta 1e6) except the vocabulary: the tokenizer is the small
byte-level BPE of tests/tokenizers/qwen-bpe.json, so the embedding table has its few hundred
rows. The benchmark feeds token ids, not text, and the table is only looked up, so its size does
not change the work measured.

The GGUF writer is written here from the format's published description (header, typed
key/value metadata, tensor infos with dimensions innermost first, 32-byte aligned data); the
tensor names and keys are those llama.cpp reads for qwen3.

Run:  /usr/bin/python3 bench/llama/make_models.py OUT [--layers N]
"""

import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKENIZER = os.path.join(REPO, "tests", "tokenizers", "qwen-bpe.json")

GGUF_UINT32, GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_Q8_0 = 0, 8
POOLING_LAST = 3
ALIGN = 32


def config(layers, vocab):
    return {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": vocab - 3, "eos_token_id": vocab - 3, "head_dim": 128, "hidden_act": "silu",
        "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
        "max_position_embeddings": 32768, "max_window_layers": layers, "model_type": "qwen3",
        "num_attention_heads": 16, "num_hidden_layers": layers, "num_key_value_heads": 8,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
        "tie_word_embeddings": True, "torch_dtype": "float32", "transformers_version": "4.51.3",
        "use_cache": True, "use_sliding_window": False, "vocab_size": vocab,
    }


def weights(cfg, seed=11):
    g = torch.Generator().manual_seed(seed)
    H, I, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]

    def mat(*shape, std):
        return torch.randn(*shape, generator=g) * std

    def norm(n):
        return 1 + 0.1 * torch.randn(n, generator=g)

    w = {"model.embed_tokens.weight": mat(V, H, std=0.5), "model.norm.weight": norm(H)}
    for i in range(L):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
        w[p + "self_attn.q_proj.weight"] = mat(nh * hd, H, std=H ** -0.5)
        w[p + "self_attn.k_proj.weight"] = mat(nkv * hd, H, std=H ** -0.5)
        w[p + "self_attn.v_proj.weight"] = mat(nkv * hd, H, std=H ** -0.5)
        w[p + "self_attn.o_proj.weight"] = mat(H, nh * hd, std=0.5 * (nh * hd) ** -0.5)
        w[p + "self_attn.q_norm.weight"] = norm(hd)
        w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "mlp.gate_proj.weight"] = mat(I, H, std=H ** -0.5)
        w[p + "mlp.up_proj.weight"] = mat(I, H, std=H ** -0.5)
        w[p + "mlp.down_proj.weight"] = mat(H, I, std=0.5 * I ** -0.5)
    return w


GGUF_NAMES = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    _, _, i, rest = hf.split(".", 3)
    return f"blk.{i}.{GGUF_NAMES[rest.rsplit('.', 1)[0]]}.weight"


def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == GGUF_STRING:
        return out + gstr(value)
    if vtype == GGUF_ARRAY:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == GGUF_STRING:
            return out + b"".join(gstr(x) for x in items)
        return out + b"".join(struct.pack({GGUF_INT32: "<i", GGUF_UINT32: "<I"}[etype], x) for x in items)
    fmt = {GGUF_UINT32: "<I", GGUF_INT32: "<i", GGUF_FLOAT32: "<f", GGUF_BOOL: "<?"}[vtype]
    return out + struct.pack(fmt, value)


def q8_0(a):
    """Rows of a 2-D float32 array as Q8_0 blocks: fp16 scale, then 32 int8."""
    rows, cols = a.shape
    assert cols % 32 == 0
    blocks = a.reshape(rows, cols // 32, 32).astype(np.float32)
    d = np.abs(blocks).max(axis=2) / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
    q = np.round(blocks * inv[..., None]).astype(np.int8)
    rec = np.zeros((rows, cols // 32), dtype=[("d", "<f2"), ("q", "i1", (32,))])
    rec["d"] = d.astype(np.float16)
    rec["q"] = q
    return rec.tobytes()


def write_gguf(path, cfg, w, tok, quant):
    vocab = {**tok["model"]["vocab"], **{a["content"]: a["id"] for a in tok["added_tokens"]}}
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    special = {a["id"] for a in tok["added_tokens"]}
    eos = min(special)
    arch = "qwen3"
    meta = [
        kv("general.architecture", GGUF_STRING, arch),
        kv("general.name", GGUF_STRING, "switchyard-bench-qwen3-embedding-shape"),
        kv("general.file_type", GGUF_UINT32, 7 if quant else 0),
        kv("general.alignment", GGUF_UINT32, ALIGN),
        kv(f"{arch}.block_count", GGUF_UINT32, cfg["num_hidden_layers"]),
        kv(f"{arch}.context_length", GGUF_UINT32, cfg["max_position_embeddings"]),
        kv(f"{arch}.embedding_length", GGUF_UINT32, cfg["hidden_size"]),
        kv(f"{arch}.feed_forward_length", GGUF_UINT32, cfg["intermediate_size"]),
        kv(f"{arch}.attention.head_count", GGUF_UINT32, cfg["num_attention_heads"]),
        kv(f"{arch}.attention.head_count_kv", GGUF_UINT32, cfg["num_key_value_heads"]),
        kv(f"{arch}.attention.key_length", GGUF_UINT32, cfg["head_dim"]),
        kv(f"{arch}.attention.value_length", GGUF_UINT32, cfg["head_dim"]),
        kv(f"{arch}.rope.freq_base", GGUF_FLOAT32, float(cfg["rope_theta"])),
        kv(f"{arch}.attention.layer_norm_rms_epsilon", GGUF_FLOAT32, cfg["rms_norm_eps"]),
        kv(f"{arch}.pooling_type", GGUF_UINT32, POOLING_LAST),
        kv("tokenizer.ggml.model", GGUF_STRING, "gpt2"),
        kv("tokenizer.ggml.pre", GGUF_STRING, "qwen2"),
        kv("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tokens)),
        kv("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_INT32, [3 if i in special else 1 for i in range(len(tokens))])),
        kv("tokenizer.ggml.merges", GGUF_ARRAY, (GGUF_STRING, tok["model"]["merges"])),
        kv("tokenizer.ggml.eos_token_id", GGUF_UINT32, eos),
        kv("tokenizer.ggml.bos_token_id", GGUF_UINT32, eos),
        kv("tokenizer.ggml.padding_token_id", GGUF_UINT32, eos),
        kv("tokenizer.ggml.add_bos_token", GGUF_BOOL, False),
    ]
    infos, blobs, offset = [], [], 0
    for name, t in w.items():
        a = t.float().numpy()
        qt = quant and a.ndim == 2
        data = q8_0(a) if qt else a.astype("<f4").tobytes()
        dims = list(reversed(a.shape))  # innermost first
        infos.append(gstr(gguf_name(name)) + struct.pack("<I", len(dims)) +
                     b"".join(struct.pack("<Q", d) for d in dims) +
                     struct.pack("<IQ", GGML_Q8_0 if qt else GGML_F32, offset))
        pad = (-len(data)) % ALIGN
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(meta)))
        for m in meta:
            f.write(m)
        for i in infos:
            f.write(i)
        f.write(b"\0" * ((-f.tell()) % ALIGN))
        for b in blobs:
            f.write(b)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    layers = int(sys.argv[sys.argv.index("--layers") + 1]) if "--layers" in sys.argv else 28
    tok = json.load(open(TOKENIZER, encoding="utf-8"))
    n_vocab = len(tok["model"]["vocab"]) + len(tok["added_tokens"])
    cfg = config(layers, n_vocab)
    w = weights(cfg)
    hf = os.path.join(out, "hf")
    os.makedirs(hf, exist_ok=True)
    safetensors_io.save(os.path.join(hf, "model.safetensors"), w)
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    shutil.copy(TOKENIZER, os.path.join(hf, "tokenizer.json"))
    write_gguf(os.path.join(out, "model-f32.gguf"), cfg, w, tok, False)
    write_gguf(os.path.join(out, "model-q8_0.gguf"), cfg, w, tok, True)
    n = sum(t.numel() for t in w.values())
    print(f"{out}: {layers} layers, {n / 1e6:.0f}M parameters, vocabulary {n_vocab}")


if __name__ == "__main__":
    main()
