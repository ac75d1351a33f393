#!/usr/bin/python3
"""Writes a tiny BGE-M3 fixture (tests/fixtures/bge-m3-tiny/) and its golden
(tests/golden/bge-m3-tiny.json), in the layout BAAI/bge-m3 ships: an XLMRobertaModel
(config.json, pytorch_model.bin by torch.save, keys without a prefix, pooler included), the
sentence-transformers files (modules.json: Transformer, CLS Pooling, Normalize), and the two
heads FlagEmbedding's BGEM3 model loads beside it, each a torch.save'd nn.Linear state dict
({"weight", "bias"}): colbert_linear.pt (hidden -> hidden) and sparse_linear.pt (hidden -> 1).
The tokenizer is the real bert-base-uncased one (as in xlmr-ce-tiny), with a
special_tokens_map.json that names its roles the way XLM-R's does (bos/cls = [CLS],
eos/sep = [SEP]), so the sparse output drops the same roles as for bge-m3.

The golden is an independent reference written from FlagEmbedding's published BGEM3 code
(inference/embedder/encoder_only/m3.py and finetune/.../m3/modeling.py), in float64:
  dense:    normalize(last_hidden_state[:, 0])
  sparse:   relu(sparse_linear(h)) per token; per token id the max weight; the ids of the
            cls, eos, pad and unk tokens dropped, and weights <= 0
  colbert:  normalize(colbert_linear(h[:, 1:])) over the tokens after CLS (the final
            separator included: tokens_num - 1 vectors)
  scores:   dense = q . d; sparse = sum over shared ids of w_q * w_d; colbert = mean over the
            query's vectors of the max dot with a document vector; hybrid =
            (w0 dense + w1 sparse + w2 colbert) / (w0 + w1 + w2) as compute_score's
            "colbert+sparse+dense", here with weights [0.4, 0.2, 0.4] and [1, 0.5, 0.25].

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_bge_m3.py
"""
import os
import shutil
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402
import wordpiece  # noqa: E402

NAME = "bge-m3-tiny"
QUERY = "what is a switchyard?"
DOCS = [
    "A switchyard is where railway cars are sorted onto tracks.",
    "Bananas are rich in potassium.",
    "Café déjà vu, naïve façade! what what what",
    "Switchyard serves small embedding models: it tokenizes each request, batches requests that "
    "arrive together, runs the transformer encoder on a pool of threads, pools the token states "
    "into one vector per text, and normalises the result when the model asks for it. Long inputs "
    "such as this one are cut at the model's position limit, keeping the final separator token.",
    "x",
]
WEIGHTS = [[0.4, 0.2, 0.4], [1.0, 0.5, 0.25]]


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    if not os.path.isdir(tok_dir):
        tok_dir = os.path.join(mf.REPO, "tests", "fixtures", "xlmr-ce-tiny")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    c = mf.bert_config("roberta", 2, 64, 4, 128, 66, 30522, "gelu", "float32",
                       architectures=["XLMRobertaModel"], model_type="xlm-roberta")
    h = c["hidden_size"]
    d = os.path.join(mf.REPO, "tests", "fixtures", NAME)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    mf.write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(2024)
    state = mf.random_state(models.build(c))
    # Larger layer matrices than Hugging Face's 0.02 init, so that the CLS state (and the dense
    # output) depends clearly on the text.
    state = {k: v * 8 if k.startswith("encoder.layer") and v.dim() == 2 else v
             for k, v in state.items()}
    torch.save(state, os.path.join(d, "pytorch_model.bin"))
    colbert = torch.nn.Linear(h, h)
    sparse = torch.nn.Linear(h, 1)
    with torch.no_grad():
        colbert.weight.copy_(0.2 * torch.randn(h, h))
        colbert.bias.copy_(0.05 * torch.randn(h))
        sparse.weight.copy_(0.3 * torch.randn(1, h))
        sparse.bias.copy_(torch.tensor([2.0]))
    torch.save(colbert.state_dict(), os.path.join(d, "colbert_linear.pt"))
    torch.save(sparse.state_dict(), os.path.join(d, "sparse_linear.pt"))
    for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))
    mf.write_json(os.path.join(d, "special_tokens_map.json"), {
        "bos_token": "[CLS]", "cls_token": "[CLS]", "eos_token": "[SEP]", "mask_token": "[MASK]",
        "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"})
    mf.write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}])
    os.makedirs(os.path.join(d, "1_Pooling"))
    mf.write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": h, "pooling_mode_cls_token": True,
        "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    max_len = models.max_tokens(c)
    mf.write_json(os.path.join(d, "sentence_bert_config.json"),
                  {"max_seq_length": max_len, "do_lower_case": False})

    # Reference: everything read back as stored, in float64.
    w = {k: v.to(torch.float64) for k, v in torch.load(os.path.join(d, "pytorch_model.bin")).items()}
    enc = models.build(c).to(torch.float64).eval()
    enc.load_state_dict(w, strict=True)
    cw = {k: v.to(torch.float64) for k, v in torch.load(os.path.join(d, "colbert_linear.pt")).items()}
    sw = {k: v.to(torch.float64) for k, v in torch.load(os.path.join(d, "sparse_linear.pt")).items()}
    unused = {vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]")}

    def encode(text):
        ids = wordpiece.encode(text, vocab, max_len)
        t = torch.tensor([ids])
        hid = enc(t, torch.ones_like(t), torch.zeros_like(t))[0]
        dense = F.normalize(hid[0], dim=-1)
        tw = torch.relu(F.linear(hid, sw["weight"], sw["bias"]))[:, 0]
        lex = {}
        for wt, i in zip(tw.tolist(), ids):
            if i not in unused and wt > 0 and wt > lex.get(i, 0):
                lex[i] = wt
        cv = F.normalize(F.linear(hid[1:], cw["weight"], cw["bias"]), dim=-1)
        return {"text": text, "ids": ids, "dense": dense.tolist(),
                "sparse": {"indices": sorted(lex), "values": [lex[i] for i in sorted(lex)]},
                "colbert": cv.tolist()}

    def scores(q, x):
        dense = float(torch.tensor(q["dense"]) @ torch.tensor(x["dense"]))
        qs = dict(zip(q["sparse"]["indices"], q["sparse"]["values"]))
        xs = dict(zip(x["sparse"]["indices"], x["sparse"]["values"]))
        sparse = sum(wq * xs[i] for i, wq in qs.items() if i in xs)
        tok = torch.tensor(q["colbert"], dtype=torch.float64) @ torch.tensor(
            x["colbert"], dtype=torch.float64).T
        colbert = float(tok.max(dim=1).values.sum() / tok.shape[0])
        out = {"dense": dense, "sparse": sparse, "colbert": colbert}
        out["hybrid"] = [(a * dense + b * sparse + g * colbert) / (a + b + g) for a, b, g in WEIGHTS]
        return out

    with torch.no_grad():
        query = encode(QUERY)
        docs = [encode(x) for x in DOCS]
        sc = [scores(query, x) for x in docs]
    mf.write_json(os.path.join(mf.REPO, "tests", "golden", NAME + ".json"), {
        "model": "tests/fixtures/" + NAME, "generator": "tools/reference/make_bge_m3.py",
        "max_tokens": max_len, "hybrid_weights": WEIGHTS, "query": query, "documents": docs,
        "scores": sc})
    print("tokens:", [len(x["ids"]) for x in docs], "sparse terms:",
          [len(x["sparse"]["indices"]) for x in docs])
    print("scores:", sc)


if __name__ == "__main__":
    main()
