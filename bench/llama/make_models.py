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

The GGUF writer is llama.cpp's own gguf-py (bench/llama/llama_gguf.py, shared with
bench/llama/bert_gguf.py: from the tree bench/llama/build_llama.sh clones; Q8_0 by gguf-py's quants
module); the tensor names and keys are those llama.cpp reads for qwen3.

Run:  /usr/bin/python3 bench/llama/make_models.py OUT [--layers N]
"""

import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
import safetensors_io  # noqa: E402

import llama_gguf as lg  # noqa: E402  (bench/llama/llama_gguf.py, beside this script)
from llama_gguf import V  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKENIZER = os.path.join(REPO, "tests", "tokenizers", "qwen-bpe.json")

POOLING_LAST = lg.POOLING["last"]


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


def write_gguf(path, cfg, w, tok, quant):
    vocab = {**tok["model"]["vocab"], **{a["content"]: a["id"] for a in tok["added_tokens"]}}
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    special = {a["id"] for a in tok["added_tokens"]}
    eos = min(special)
    arch = "qwen3"
    meta = lg.model_meta("switchyard-bench-qwen3-embedding-shape", arch,
                         lg.Q8_0 if quant else lg.F32, cfg) + [
        (f"{arch}.attention.head_count_kv", cfg["num_key_value_heads"], V.UINT32),
        (f"{arch}.attention.key_length", cfg["head_dim"], V.UINT32),
        (f"{arch}.attention.value_length", cfg["head_dim"], V.UINT32),
        (f"{arch}.rope.freq_base", float(cfg["rope_theta"]), V.FLOAT32),
        (f"{arch}.attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"], V.FLOAT32),
        (f"{arch}.pooling_type", POOLING_LAST, V.UINT32),
        ("tokenizer.ggml.model", "gpt2", V.STRING),
        ("tokenizer.ggml.pre", "qwen2", V.STRING),
        ("tokenizer.ggml.tokens", tokens, V.ARRAY),
        ("tokenizer.ggml.token_type", [3 if i in special else 1 for i in range(len(tokens))], V.ARRAY),
        ("tokenizer.ggml.merges", tok["model"]["merges"], V.ARRAY),
        ("tokenizer.ggml.eos_token_id", eos, V.UINT32),
        ("tokenizer.ggml.bos_token_id", eos, V.UINT32),
        ("tokenizer.ggml.padding_token_id", eos, V.UINT32),
        ("tokenizer.ggml.add_bos_token", False, V.BOOL),
    ]
    tensors = [(gguf_name(name), t.float().numpy(), lg.Q8_0 if quant and t.dim() == 2 else lg.F32)
               for name, t in w.items()]
    lg.write(path, arch, meta, tensors)


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
