#!/usr/bin/python3
"""Writes a BERT model directory that Switchyard loads (config.json, model.safetensors, vocab.txt:
what tools/reference/export_onnx.py exports for `make bench`) as the two GGUF files llama.cpp's
`bert` architecture loads, from the same tensors, so that bench/run.sh can time llama.cpp beside
Switchyard and ONNX Runtime on identical weights:

  DIR/model-f32.gguf   every tensor float32
  DIR/model-q8_0.gguf  the linear layers and the token embedding table in Q8_0 (blocks of 32
                       weights, one fp16 scale each), the norms, biases, position and token-type
                       embeddings in float32

What llama.cpp reads for `bert` (its llama-arch.cpp / llama-model.cpp / llama-vocab.cpp, and what
gguf-py's BertModel converter writes):

  metadata  bert.block_count, .context_length (position embeddings), .embedding_length,
            .feed_forward_length, .attention.head_count, .attention.layer_norm_epsilon,
            .attention.causal = false, .pooling_type (1 mean, 2 CLS);
            tokenizer.ggml.model = "bert" (WordPiece), tokenizer.ggml.tokens in llama.cpp's
            spelling (a "##" continuation loses its "##", every other non-control token gains a
            leading U+2581), tokenizer.ggml.token_type (3 for [PAD] [UNK] [CLS] [SEP] [MASK]),
            tokenizer.ggml.token_type_count (type_vocab_size), the special token ids
  tensors   token_embd, token_types, position_embd, token_embd_norm (weight, bias); per layer
            blk.N.attn_q / attn_k / attn_v / attn_output (weight, bias), attn_output_norm,
            ffn_up, ffn_down, layer_output_norm (weight, bias). The pooler is not used.

llama.cpp adds token type 0's row to every token, as Switchyard does when given no type ids.

The files are written with llama.cpp's own gguf-py (bench/llama/llama_gguf.py: from the tree
bench/llama/build_llama.sh clones; Q8_0 by gguf-py's quants module).

Run:  /usr/bin/python3 bench/llama/bert_gguf.py DIR --pooling mean|cls
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "reference"))
import safetensors_io  # noqa: E402

import llama_gguf as lg  # noqa: E402  (bench/llama/llama_gguf.py, beside this script)
from llama_gguf import V  # noqa: E402

CONTROL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Hugging Face BertModel names (after the layer index) -> llama.cpp's bert names
LAYER_NAMES = {
    "attention.self.query": "attn_q", "attention.self.key": "attn_k",
    "attention.self.value": "attn_v", "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm",
}
TOP_NAMES = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}


def gguf_name(hf):
    """llama.cpp's name of a Hugging Face BertModel tensor, or None for one it does not use."""
    hf = hf.removeprefix("bert.")
    if hf in TOP_NAMES:
        return TOP_NAMES[hf]
    if hf.startswith("encoder.layer."):
        i, rest = hf[len("encoder.layer."):].split(".", 1)
        module, kind = rest.rsplit(".", 1)
        return f"blk.{int(i)}.{LAYER_NAMES[module]}.{kind}"
    if hf.startswith("pooler."):
        return None
    raise ValueError(f"unknown BERT tensor {hf}")


def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def metadata(cfg, vocab, pooling, ttype):
    arch = "bert"
    ids = {t: i for i, t in enumerate(vocab)}
    tokens = [t if t in CONTROL else t[2:] if t.startswith("##") else "\u2581" + t for t in vocab]
    if len(set(tokens)) != len(tokens):
        raise ValueError("two tokens share one spelling once rewritten for llama.cpp")
    meta = lg.model_meta("switchyard-bench-bert-shape", arch, ttype, cfg) + [
        (f"{arch}.attention.layer_norm_epsilon", cfg["layer_norm_eps"], V.FLOAT32),
        (f"{arch}.attention.causal", False, V.BOOL),
        (f"{arch}.pooling_type", lg.POOLING[pooling], V.UINT32),
        ("tokenizer.ggml.model", "bert", V.STRING),
        ("tokenizer.ggml.pre", "default", V.STRING),
        ("tokenizer.ggml.tokens", tokens, V.ARRAY),
        ("tokenizer.ggml.token_type",
         [int(lg.TOKEN_CONTROL if t in CONTROL else lg.TOKEN_NORMAL) for t in vocab], V.ARRAY),
        ("tokenizer.ggml.token_type_count", cfg.get("type_vocab_size", 2), V.UINT32),
    ]
    for key, tok in (("bos", "[CLS]"), ("cls", "[CLS]"), ("seperator", "[SEP]"),
                     ("unknown", "[UNK]"), ("padding", "[PAD]"), ("mask", "[MASK]")):
        meta.append((f"tokenizer.ggml.{key}_token_id", ids[tok], V.UINT32))
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--pooling", choices=("mean", "cls"), required=True)
    args = ap.parse_args()
    cfg = json.load(open(os.path.join(args.dir, "config.json"), encoding="utf-8"))
    if cfg.get("model_type") != "bert":
        sys.exit(f"{args.dir}: model_type {cfg.get('model_type')}, only bert is written as GGUF here")
    vocab = read_vocab(os.path.join(args.dir, "vocab.txt"))
    w, _ = safetensors_io.load(os.path.join(args.dir, "model.safetensors"))
    named = [(gguf_name(k), t.float().numpy()) for k, t in sorted(w.items())]
    named = [(n, a) for n, a in named if n]
    if dict(named)["token_embd.weight"].shape[0] != len(vocab):
        sys.exit(f"{args.dir}: {len(vocab)} tokens in vocab.txt, not the embedding table's rows")
    for ttype, suffix in ((lg.F32, "f32"), (lg.Q8_0, "q8_0")):
        # Q8_0 for the matrices a forward multiplies by and the (looked-up) token table; the
        # position and token-type tables stay float32, as llama.cpp's converter keeps them.
        tensors = [(n, a, lg.Q8_0 if ttype == lg.Q8_0 and a.ndim == 2 and n not in
                    ("position_embd.weight", "token_types.weight") else lg.F32) for n, a in named]
        lg.write(os.path.join(args.dir, f"model-{suffix}.gguf"), "bert",
                 metadata(cfg, vocab, args.pooling, ttype), tensors)
    print(f"{args.dir}: model-f32.gguf and model-q8_0.gguf ({len(named)} tensors, {args.pooling} pooling)")


if __name__ == "__main__":
    main()
