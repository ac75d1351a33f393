#!/usr/bin/python3
"""Writes a tiny GLiNER fixture (tests/fixtures/gliner-tiny/) and its golden
(tests/golden/gliner-tiny.json): seeded random weights in the layout of the GLiNER span
models (urchade/gliner_small-v2.1): gliner_config.json with the DeBERTa-v3-style encoder_config,
the backbone under token_rep_layer.bert_layer.model.*, the bi-LSTM under rnn.lstm.*, the
markerV0 span layer under span_rep_layer.span_rep_layer.*, the prompt projection under
prompt_rep_layer.*; the bert-base-uncased vocabulary with <<ENT>> and <<SEP>> appended.

The golden is an independent reference in plain PyTorch, written from the published code:
  DeBERTa-v2 (transformers' modeling_deberta_v2): embeddings (no position or token-type
  embeddings in the v3 style) -> LayerNorm; relative positions i - j in log buckets
  (make_log_bucket_position) offset by the span into the LayerNormed rel_embeddings; per layer
  disentangled attention with shared keys: Q K^T + Q (key_proj(R))[c] + K (query_proj(R))[c],
  each over sqrt(head_dim * 3); dense + LayerNorm, GELU FFN + LayerNorm.
  GLiNER: words by the regex \\w+(?:[-_]\\w+)*|\\S; input [CLS] (<<ENT>> label-tokens)*
  <<SEP>> word-tokens [SEP]; prompts = the <<ENT>> token states; words = their first sub-token
  states; bidirectional LSTM (hidden/2 each way); markerV0 spans of up to max_width words:
  out_project(relu([project_start(h_s); project_end(h_e)])), each projection Linear(d, 4 out) ->
  ReLU -> Linear(4 out, out); scores = sigmoid(span . prompt_rep_layer(prompt)); flat greedy
  decoding above the threshold (highest first, no overlaps), then by start.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_gliner.py
"""
import math
import os
import re
import shutil
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

NAME = "gliner-tiny"
H, LAYERS, HEADS, FFN, BUCKETS, MAXPOS, MAXW = 32, 2, 4, 64, 8, 64, 4
EPS = 1e-7
TEXTS = [
    ("Tim Cook is the CEO of Apple.", ["person", "organization"]),
    ("Marie Curie won the Nobel Prize in Physics in 1903 in Stockholm.", ["person", "award", "date", "location"]),
    ("Café owners in São Paulo met state-of-the-art robots on 2024-05-01!", ["location", "date", "job title"]),
    ("no entities here", ["person"]),
]
THRESHOLD = 0.85


def log_bucket(rel, bucket_size, max_position):
    sign = torch.sign(rel)
    mid = bucket_size // 2
    abs_pos = torch.where((rel < mid) & (rel > -mid), torch.tensor(mid - 1).type_as(rel), torch.abs(rel))
    log_pos = torch.ceil(torch.log(abs_pos / mid) / math.log((max_position - 1) / mid) * (mid - 1)) + mid
    return torch.where(abs_pos <= mid, rel.type_as(log_pos), log_pos * sign).long()


def deberta(w, p, ids):
    T = len(ids)
    x = w[p + "embeddings.word_embeddings.weight"][ids]
    x = F.layer_norm(x, (H,), w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"], EPS)
    q = torch.arange(T)
    rel = log_bucket((q[:, None] - q[None, :]).double(), BUCKETS, MAXPOS)
    span = BUCKETS
    c = torch.clamp(rel + span, 0, 2 * span - 1)
    R = w[p + "encoder.rel_embeddings.weight"][: 2 * span]
    R = F.layer_norm(R, (H,), w[p + "encoder.LayerNorm.weight"], w[p + "encoder.LayerNorm.bias"], EPS)
    d = H // HEADS
    for l in range(LAYERS):
        a = f"{p}encoder.layer.{l}."
        lin = lambda t, n: t @ w[a + n + ".weight"].T + w[a + n + ".bias"]
        Q, K, V = lin(x, "attention.self.query_proj"), lin(x, "attention.self.key_proj"), lin(x, "attention.self.value_proj")
        Qr, Kr = lin(R, "attention.self.query_proj"), lin(R, "attention.self.key_proj")
        ctx = torch.zeros(T, H, dtype=x.dtype)
        scale = math.sqrt(d * 3)
        for h in range(HEADS):
            s = slice(h * d, (h + 1) * d)
            qh, kh, vh, qrh, krh = Q[:, s], K[:, s], V[:, s], Qr[:, s], Kr[:, s]
            c2p = torch.gather(qh @ krh.T, 1, c)           # [i][j] = q_i . Kr[c_ij]
            # p2c as transformers computes it: K Qr^T gathered at clamp(-r_pos + span), then
            # transposed ([i][j] = k_j . Qr[clamp(-bucket(j - i) + span)]).
            p2c = torch.gather(kh @ qrh.T, 1, torch.clamp(-rel + span, 0, 2 * span - 1)).T
            scores = (qh @ kh.T + c2p + p2c) / scale
            ctx[:, s] = torch.softmax(scores, dim=-1) @ vh
        att = F.layer_norm(lin(ctx, "attention.output.dense") + x, (H,), w[a + "attention.output.LayerNorm.weight"],
                           w[a + "attention.output.LayerNorm.bias"], EPS)
        inter = F.gelu(lin(att, "intermediate.dense"))
        x = F.layer_norm(lin(inter, "output.dense") + att, (H,), w[a + "output.LayerNorm.weight"],
                         w[a + "output.LayerNorm.bias"], EPS)
    return x


def lstm_dir(w, x, suffix, reverse):
    Wih, Whh = w["rnn.lstm.weight_ih_l0" + suffix], w["rnn.lstm.weight_hh_l0" + suffix]
    b = w["rnn.lstm.bias_ih_l0" + suffix] + w["rnn.lstm.bias_hh_l0" + suffix]
    n = Whh.shape[1]
    h = torch.zeros(n, dtype=x.dtype)
    c = torch.zeros(n, dtype=x.dtype)
    out = torch.zeros(x.shape[0], n, dtype=x.dtype)
    order = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in order:
        g = Wih @ x[t] + Whh @ h + b
        i, f, gg, o = torch.sigmoid(g[:n]), torch.sigmoid(g[n:2 * n]), torch.tanh(g[2 * n:3 * n]), torch.sigmoid(g[3 * n:])
        c = f * c + i * gg
        h = o * torch.tanh(c)
        out[t] = h
    return out


def proj(w, name, x):
    return F.relu(x @ w[name + ".0.weight"].T + w[name + ".0.bias"]) @ w[name + ".3.weight"].T + w[name + ".3.bias"]


def gliner(w, vocab, text, labels):
    words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\w+(?:[-_]\w+)*|\S", text)]
    ids, ent_pos, first = [vocab["[CLS]"]], [], []
    for lab in labels:
        ent_pos.append(len(ids))
        ids.append(vocab["<<ENT>>"])
        ids += [vocab[t] for t in wordpiece.tokenize(lab, vocab)]
    ids.append(vocab["<<SEP>>"])
    for word, _, _ in words:
        toks = wordpiece.tokenize(word, vocab) or ["[UNK]"]
        first.append(len(ids))
        ids += [vocab[t] for t in toks]
    ids.append(vocab["[SEP]"])
    tok = deberta(w, "token_rep_layer.bert_layer.model.", ids)
    prompts = tok[ent_pos]
    L = len(words)
    if L == 0:
        return ids, [], []
    h = tok[first]
    h = torch.cat([lstm_dir(w, h, "", False), lstm_dir(w, h, "_reverse", True)], dim=-1)
    s_rep = proj(w, "span_rep_layer.span_rep_layer.project_start", h)
    e_rep = proj(w, "span_rep_layer.span_rep_layer.project_end", h)
    p_rep = proj(w, "prompt_rep_layer", prompts)
    probs = []  # [start][width][class]
    spans = []
    for s in range(L):
        row = []
        for k in range(MAXW):
            e = s + k
            if e >= L:
                row.append(None)
                continue
            rep = proj(w, "span_rep_layer.span_rep_layer.out_project", F.relu(torch.cat([s_rep[s], e_rep[e]])))
            p = torch.sigmoid(p_rep @ rep)
            row.append([float(v) for v in p])
            for ci in range(len(labels)):
                if p[ci] > THRESHOLD:
                    spans.append((s, e, labels[ci], float(p[ci])))
        probs.append(row)
    chosen = []
    for sp in sorted(spans, key=lambda x: -x[3]):
        if all(sp[0] > o[1] or o[0] > sp[1] for o in chosen):
            chosen.append(sp)
    chosen.sort(key=lambda x: x[0])
    ents = [{"text": text[words[s][1]:words[e][2]], "label": lab, "score": sc,
             "start": words[s][1], "end": words[e][2]} for s, e, lab, sc in chosen]
    return ids, probs, ents


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    V = len(vocab) + 2
    vocab["<<ENT>>"], vocab["<<SEP>>"] = V - 2, V - 1
    d = os.path.join(mf.REPO, "tests", "fixtures", NAME)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    enc = {"model_type": "deberta-v2", "architectures": ["DebertaV2Model"], "hidden_size": H,
           "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": FFN,
           "hidden_act": "gelu", "max_position_embeddings": MAXPOS, "position_buckets": BUCKETS,
           "max_relative_positions": -1, "relative_attention": True, "share_att_key": True,
           "pos_att_type": ["p2c", "c2p"], "norm_rel_ebd": "layer_norm", "position_biased_input": False,
           "type_vocab_size": 0, "layer_norm_eps": EPS, "vocab_size": V, "pad_token_id": 0}
    mf.write_json(os.path.join(d, "gliner_config.json"), {
        "model_name": "tiny-deberta-v3", "name": "span level gliner", "max_width": MAXW, "hidden_size": H,
        "dropout": 0.4, "fine_tune": True, "subtoken_pooling": "first", "span_mode": "markerV0",
        "max_types": 25, "max_len": 384, "words_splitter_type": "whitespace", "has_rnn": True,
        "fuse_layers": False, "embed_ent_token": True, "class_token_index": V - 2,
        "encoder_config": enc, "ent_token": "<<ENT>>", "sep_token": "<<SEP>>", "vocab_size": V})
    torch.manual_seed(61)
    full = {}
    p = "token_rep_layer.bert_layer.model."
    full[p + "embeddings.word_embeddings.weight"] = 0.5 * torch.randn(V, H)
    full[p + "embeddings.LayerNorm.weight"] = 1 + 0.1 * torch.randn(H)
    full[p + "embeddings.LayerNorm.bias"] = 0.02 * torch.randn(H)
    full[p + "encoder.rel_embeddings.weight"] = 0.5 * torch.randn(2 * BUCKETS, H)
    full[p + "encoder.LayerNorm.weight"] = 1 + 0.1 * torch.randn(H)
    full[p + "encoder.LayerNorm.bias"] = 0.02 * torch.randn(H)
    for l in range(LAYERS):
        a = f"{p}encoder.layer.{l}."
        for n, (o, i) in {"attention.self.query_proj": (H, H), "attention.self.key_proj": (H, H),
                          "attention.self.value_proj": (H, H), "attention.output.dense": (H, H),
                          "intermediate.dense": (FFN, H), "output.dense": (H, FFN)}.items():
            full[a + n + ".weight"] = 0.2 * torch.randn(o, i)
            full[a + n + ".bias"] = 0.02 * torch.randn(o)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            full[a + n + ".weight"] = 1 + 0.1 * torch.randn(H)
            full[a + n + ".bias"] = 0.02 * torch.randn(H)
    n = H // 2
    for sfx in ("", "_reverse"):
        full["rnn.lstm.weight_ih_l0" + sfx] = 0.3 * torch.randn(4 * n, H)
        full["rnn.lstm.weight_hh_l0" + sfx] = 0.3 * torch.randn(4 * n, n)
        full["rnn.lstm.bias_ih_l0" + sfx] = 0.1 * torch.randn(4 * n)
        full["rnn.lstm.bias_hh_l0" + sfx] = 0.1 * torch.randn(4 * n)
    for name, ind, out in [("span_rep_layer.span_rep_layer.project_start", H, H),
                           ("span_rep_layer.span_rep_layer.project_end", H, H),
                           ("span_rep_layer.span_rep_layer.out_project", 2 * H, H),
                           ("prompt_rep_layer", H, H)]:
        full[name + ".0.weight"] = 0.3 * torch.randn(4 * out, ind)
        full[name + ".0.bias"] = 0.05 * torch.randn(4 * out)
        full[name + ".3.weight"] = 0.06 * torch.randn(out, 4 * out)
        full[name + ".3.bias"] = 0.05 * torch.randn(out)
    safetensors_io.save(os.path.join(d, "model.safetensors"), {k: t.float().to(torch.float16) for k, t in full.items()})
    with open(os.path.join(tok_dir, "vocab.txt"), encoding="utf-8") as f:
        lines = f.read().rstrip("\n").split("\n")
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines + ["<<ENT>>", "<<SEP>>"]) + "\n")
    shutil.copyfile(os.path.join(tok_dir, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))

    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    w = {k: t.to(torch.float64) for k, t in w.items()}
    rows = []
    with torch.no_grad():
        for text, labels in TEXTS:
            ids, probs, ents = gliner(w, vocab, text, labels)
            rows.append({"text": text, "labels": labels, "ids": ids, "probs": probs, "entities": ents})
        # the DeBERTa-v2 encoder alone, on a sequence long enough for the log buckets (|i - j|
        # up to 39 > position_buckets / 2)
        enc_ids = [vocab["[CLS]"]] + [(37 * i + 1000) % (V - 2) for i in range(38)] + [vocab["[SEP]"]]
        hidden = deberta(w, "token_rep_layer.bert_layer.model.", enc_ids)
    mf.write_json(os.path.join(mf.REPO, "tests", "golden", NAME + ".json"),
                  {"model": "tests/fixtures/" + NAME, "generator": "tools/reference/make_gliner.py",
                   "threshold": THRESHOLD, "max_width": MAXW, "texts": rows,
                   "encoder": {"ids": enc_ids, "hidden": hidden.tolist()}})
    print([len(r["entities"]) for r in rows], [[e["label"] for e in r["entities"]] for r in rows])


if __name__ == "__main__":
    main()
