#!/usr/bin/python3
"""Writes the tiny decoder fixtures used as encoders and their golden, from an independent
reference written from transformers' modeling_qwen3.py and modeling_qwen2.py: token embeddings,
pre-norm layers (RMSNorm in float32), q/k/v projections (Qwen2: with biases), Qwen3's per-head
q_norm / k_norm, rotary (rope_theta, rotate-half), grouped-query causal attention, SwiGLU MLP
(down(silu(gate(x)) * up(x))), the final norm.

  tests/fixtures/qwen3-emb-tiny/   Qwen3ForCausalLM layout ("model." names, tied embeddings, no
                                   lm_head tensor), BF16 as the real checkpoints ship, explicit
                                   head_dim larger than hidden / heads, 4 query heads on 2
                                   key/value heads; sentence-transformers files as
                                   Qwen3-Embedding-0.6B has them (last-token pooling, Normalize,
                                   the query instruction prompt).
  tests/golden/qwen3-emb-tiny.json  ids, last hidden states (after the final norm), embeddings,
                                   query embeddings with the prompt.
  tests/fixtures/qwen3-rerank-tiny/  Qwen3-Reranker's layout: a Qwen3ForCausalLM with its own
                                   lm_head (tie_word_embeddings false), no sentence-transformers
                                   files; F32.
  tests/golden/qwen3-rerank-tiny.json  (query, document) pairs with the card's prompt, their token
                                   ids and scores (softmax of the "no" and "yes" logits at the last
                                   position), one document cut to fit max_position_embeddings.
  tests/fixtures/mxbai-rerank-v2-tiny/  mxbai-rerank-base-v2's layout: a Qwen2ForCausalLM with
                                   q/k/v biases, tied embeddings (the answer rows come from the
                                   embedding table), BF16.
  tests/golden/mxbai-rerank-v2-tiny.json  pairs with the prompt of mixedbread's mxbai_rerank
                                   package (pieces tokenized apart, query kept to 3/4 of
                                   max_length, document cut to the rest), ids and scores
                                   (sigmoid of logit("1") - logit("0") at the last position).

The fixtures tokenize with the bert-base-uncased WordPiece files (whose post-processor appends
[SEP], as Qwen3-Embedding's appends <|endoftext|>): the model pipeline is what is proven here.
Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_qwen3.py
"""

import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_new_model as nm  # noqa: E402  (texts and file writing helpers)
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

QUERY_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"


def config(qwen3, hidden, layers, heads, kv_heads, head_dim, inter, max_pos, dtype):
    """config.json with the keys Qwen/Qwen3-Embedding-0.6B (or a Qwen2 model) has."""
    c = {
        "architectures": ["Qwen3ForCausalLM" if qwen3 else "Qwen2ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151643,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": inter,
        "max_position_embeddings": max_pos,
        "max_window_layers": layers,
        "model_type": "qwen3" if qwen3 else "qwen2",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": dtype,
        "transformers_version": "4.51.3",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 30522,
    }
    if not qwen3:
        del c["attention_bias"], c["head_dim"]
    return c


def random_weights(cfg, qwen3, seed):
    g = torch.Generator().manual_seed(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", H // nh)

    def mat(*shape, std=0.05):
        return torch.randn(*shape, generator=g) * std

    w = {"model.embed_tokens.weight": mat(V, H, std=0.5), "model.norm.weight": 1 + 0.1 * torch.randn(H, generator=g)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(H, generator=g)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(H, generator=g)
        w[p + "self_attn.q_proj.weight"] = mat(nh * hd, H, std=0.3)
        w[p + "self_attn.k_proj.weight"] = mat(nkv * hd, H, std=0.3)
        w[p + "self_attn.v_proj.weight"] = mat(nkv * hd, H, std=0.3)
        w[p + "self_attn.o_proj.weight"] = mat(H, nh * hd, std=0.2)
        if qwen3:
            w[p + "self_attn.q_norm.weight"] = 1 + 0.1 * torch.randn(hd, generator=g)
            w[p + "self_attn.k_norm.weight"] = 1 + 0.1 * torch.randn(hd, generator=g)
        else:
            for n, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
                w[p + f"self_attn.{n}_proj.bias"] = mat(rows, std=0.1)
        w[p + "mlp.gate_proj.weight"] = mat(I, H, std=0.2)
        w[p + "mlp.up_proj.weight"] = mat(I, H, std=0.2)
        w[p + "mlp.down_proj.weight"] = mat(H, I, std=0.2)
    return w


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward(cfg, w, ids):
    """The final normed hidden state [T, H] of one sequence, in float64."""
    qwen3 = cfg["model_type"] == "qwen3"
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", H // nh)
    eps = cfg["rms_norm_eps"]
    W = {k: v.double() for k, v in w.items()}
    T = len(ids)
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().double()[:, None, :], emb.sin().double()[:, None, :]
    causal = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

    def lin(name, t):
        y = t @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(p + "self_attn.q_proj", h).view(T, nh, hd)
        k = lin(p + "self_attn.k_proj", h).view(T, nkv, hd)
        v = lin(p + "self_attn.v_proj", h).view(T, nkv, hd)
        if qwen3:
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q = q * cos + nm.rotate_half(q) * sin
        k = k * cos + nm.rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)  # repeat_kv: head h reads group h // (nh/nkv)
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(hd) + causal
        ctx = torch.einsum("hij,jhd->ihd", scores.softmax(-1), v).reshape(T, nh * hd)
        x = x + lin(p + "self_attn.o_proj", ctx)
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(p + "mlp.down_proj", torch.nn.functional.silu(lin(p + "mlp.gate_proj", h)) * lin(p + "mlp.up_proj", h))
    return rms_norm(x, W["model.norm.weight"], eps)


def fixture(name, cfg, qwen3, dtype, seed):
    dst = os.path.join(nm.FIX, name)
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    w = {k: v.to(dtype) for k, v in random_weights(cfg, qwen3, seed).items()}
    safetensors_io.save(os.path.join(dst, "model.safetensors"), w)
    nm.write_json(os.path.join(dst, "config.json"), cfg)
    nm.tokenizer_files(dst)
    return dst, w


RERANK_PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
                 "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
                 "<|im_start|>user\n")
RERANK_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


def rerank(vocab):
    """The Qwen3-Reranker fixture and its golden, as the model card computes the score."""
    cfg = config(True, 64, 2, 4, 2, 16, 96, 256, "float32")
    cfg["tie_word_embeddings"] = False
    dst, w = fixture("qwen3-rerank-tiny", cfg, True, torch.float32, 6)
    g = torch.Generator().manual_seed(7)
    w["lm_head.weight"] = torch.randn(cfg["vocab_size"], cfg["hidden_size"], generator=g) * 0.3
    safetensors_io.save(os.path.join(dst, "model.safetensors"), w)
    tok = lambda t: [vocab[p] for p in wordpiece.tokenize(t, vocab)]  # no special tokens
    pre, suf = tok(RERANK_PREFIX), tok(RERANK_SUFFIX)
    room = cfg["max_position_embeddings"] - len(pre) - len(suf)
    yes, no = vocab["yes"], vocab["no"]
    pairs = [("what is the capital of France?", nm.TEXTS[2], None),
             ("what is the capital of France?", "Paris is the capital and largest city of France.", None),
             ("who founded the company?", nm.TEXTS[3] + " " + nm.TEXTS[3], None),
             ("hello", "Hello", "Retrieve greetings that match the query")]
    out = {"pairs": [], "ids": [], "scores": []}
    W = {k: v.double() for k, v in w.items()}
    for q, d, instr in pairs:
        body = f"<Instruct>: {instr or DEFAULT_INSTRUCTION}\n<Query>: {q}\n<Document>: {d}"
        ids = pre + tok(body)[:room] + suf
        h = forward(cfg, w, ids)[-1]
        yl, nl = float(h @ W["lm_head.weight"][yes]), float(h @ W["lm_head.weight"][no])
        score = torch.softmax(torch.tensor([nl, yl], dtype=torch.float64), 0)[1].item()
        out["pairs"].append({"query": q, "document": d, "instruction": instr})
        out["ids"].append(ids)
        out["scores"].append(score)
    print(f"qwen3-rerank-tiny: token counts {[len(i) for i in out['ids']]}, scores {out['scores']}")
    assert max(len(i) for i in out["ids"]) == cfg["max_position_embeddings"], "no pair was cut"
    nm.write_json(os.path.join(nm.REPO, "tests", "golden", "qwen3-rerank-tiny.json"), out)


MXBAI_PREFIX = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                "<|im_end|>\n<|im_start|>user\n")
MXBAI_TASK = ("You are a search relevance expert who evaluates how well documents match search queries. "
              "For each query-document pair, carefully analyze the semantic relationship between them, "
              "then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:")
MXBAI_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"


def rerank_mxbai(vocab):
    """The mxbai-rerank-v2 fixture and its golden, as mixedbread's package prepares its inputs:
    prefix + query part (<= 3/4 of max_length) + sep + document part (the rest of max_length)
    + sep + task + suffix, each piece tokenized on its own; max_length (8192) is lowered so that
    it plus the fixed pieces fits the model's positions."""
    cfg = config(False, 64, 2, 4, 2, 16, 96, 256, "bfloat16")
    dst, w = fixture("mxbai-rerank-v2-tiny", cfg, False, torch.bfloat16, 8)
    tok = lambda t: [vocab[p] for p in wordpiece.tokenize(t, vocab)]  # no special tokens
    pre, sep, task, suf = tok(MXBAI_PREFIX), tok("\n"), tok(MXBAI_TASK), tok(MXBAI_SUFFIX)
    fixed = len(pre) + len(sep) + len(task) + len(suf)
    max_len = min(8192, cfg["max_position_embeddings"] - fixed)
    yes, no = tok("1")[0], tok("0")[0]
    long_query = " ".join([nm.TEXTS[3]] * 4)
    pairs = [("what is the capital of France?", nm.TEXTS[2], None),
             ("what is the capital of France?", "Paris is the capital and largest city of France.", None),
             ("who founded the company?", nm.TEXTS[3] + " " + nm.TEXTS[3], None),
             ("hello", "Hello", "Retrieve greetings that match the query"),
             (long_query, nm.TEXTS[1], None)]
    out = {"pairs": [], "ids": [], "scores": [], "cut": []}
    E = w["model.embed_tokens.weight"].double()  # tied: the LM head is the embedding table
    for q, d, instr in pairs:
        qtext = (f"instruction: {instr}\n" if instr else "") + f"query: {q}"
        q_ids = tok(qtext)[: max_len * 3 // 4]
        d_ids = tok(f"document: {d}")
        second = (sep + d_ids)[: max(0, max_len - len(q_ids))]  # truncation="only_second"
        ids = pre + q_ids + second + sep + task + suf
        h = forward(cfg, w, ids)[-1]
        diff = float(h @ E[yes]) - float(h @ E[no])
        out["pairs"].append({"query": q, "document": d, "instruction": instr})
        out["ids"].append(ids)
        out["scores"].append(1.0 / (1.0 + math.exp(-diff)))
        out["cut"].append(len(q_ids) < len(tok(qtext)) or len(second) < len(sep + d_ids))
    print(f"mxbai-rerank-v2-tiny: token counts {[len(i) for i in out['ids']]}, cut {out['cut']}, "
          f"scores {out['scores']}")
    assert out["cut"][2] and out["cut"][4] and not out["cut"][0], "the pairs do not test the cuts"
    nm.write_json(os.path.join(nm.REPO, "tests", "golden", "mxbai-rerank-v2-tiny.json"), out)


def main():
    vocab = wordpiece.load_vocab(os.path.join(nm.FIX, "bert-tiny", "vocab.txt"))
    rerank(vocab)
    rerank_mxbai(vocab)
    cfg = config(True, 64, 3, 4, 2, 32, 96, 256, "bfloat16")
    dst, w = fixture("qwen3-emb-tiny", cfg, True, torch.bfloat16, 5)
    nm.st_files(dst, "lasttoken",
                [nm.module(0, "", "Transformer"), nm.module(1, "1_Pooling", "Pooling"),
                 nm.module(2, "2_Normalize", "Normalize")], 256,
                {"query": QUERY_PROMPT, "document": ""})
    out = {"ids": [], "hidden": [], "embeddings": [], "query_ids": [], "query_embeddings": []}
    for t in nm.TEXTS:
        ids = wordpiece.encode(t, vocab, 256)
        h = forward(cfg, w, ids)
        e = h[-1] / h[-1].norm()
        out["ids"].append(ids)
        out["hidden"].append([round(float(v), 7) for v in h.flatten()])
        out["embeddings"].append([float(v) for v in e])
        qids = wordpiece.encode(QUERY_PROMPT + t, vocab, 256)
        hq = forward(cfg, w, qids)
        out["query_ids"].append(qids)
        out["query_embeddings"].append([float(v) for v in hq[-1] / hq[-1].norm()])
    # Causal: the states of a prefix do not depend on what follows it.
    full = forward(cfg, w, out["ids"][3])
    part = forward(cfg, w, out["ids"][3][:20])
    assert (full[:20] - part).abs().max() < 1e-12, "the reference is not causal"
    print(f"qwen3-emb-tiny: token counts {[len(i) for i in out['ids']]}")
    nm.write_json(os.path.join(nm.REPO, "tests", "golden", "qwen3-emb-tiny.json"),
                  {"texts": nm.TEXTS, "query_prompt": QUERY_PROMPT, "models": {"qwen3-emb-tiny": out}})


if __name__ == "__main__":
    main()
