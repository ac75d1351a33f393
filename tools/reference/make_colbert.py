#!/usr/bin/python3
"""Writes a tiny ColBERT fixture (tests/fixtures/colbert-tiny/) and its golden
(tests/golden/colbert-tiny.json): seeded random weights in the layout of Stanford ColBERT's
HF_ColBERT checkpoints (colbert-ir/colbertv2.0): config.json naming HF_ColBERT, the BertModel
(with its pooler, as saved) under bert.*, the projection linear.weight [dim][hidden] without
bias, and artifact.metadata with the ColBERT settings; the real bert-base-uncased tokenizer.

The golden is the independent reference, following ColBERT's QueryTokenizer / DocTokenizer and
ColBERT.query / ColBERT.doc:
  query:    ids of ". " + text with [CLS]/[SEP], cut to query_maxlen, position 1 (the ".")
            replaced by the [Q] marker ([unused0]), padded to query_maxlen with [MASK]; the
            attention mask is 0 on the [MASK] padding (attend_to_mask_tokens false), every
            position still gives a vector.
  document: ". " + text cut to doc_maxlen, position 1 replaced by [D] ([unused1]); tokens whose
            id is that of an ASCII punctuation character (string.punctuation) are dropped.
  vectors:  normalize(linear(last_hidden_state)), L2 per token.
  MaxSim:   sum over query vectors of the max dot product over document vectors.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_colbert.py
"""
import os
import shutil
import string
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

NAME = "colbert-tiny"
DIM = 32
QUERY_MAXLEN = 16
DOC_MAXLEN = 40
QUERIES = [
    "what is a switchyard?",
    "capital of France",
    "how do late-interaction retrievers score documents against a query, token by token?",
]
DOCS = [
    "A switchyard is where railway cars are sorted onto tracks.",
    "Paris is the capital and largest city of France.",
    "Bananas are rich in potassium!!!",
    "Café déjà vu, naïve façade; (naïve) [café] {déjà}.",
    "The Eiffel Tower was finished in 1889; millions visit it every year, climbing its stairs or "
    "taking the lifts to the top, from where on a clear day one sees far beyond the city.",
]


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    c = mf.bert_config("bert", 2, 64, 4, 128, 64, 30522, "gelu", "float16",
                       architectures=["HF_ColBERT"])
    d = os.path.join(mf.REPO, "tests", "fixtures", NAME)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    mf.write_json(os.path.join(d, "config.json"), c)
    mf.write_json(os.path.join(d, "artifact.metadata"), {
        "query_token_id": "[unused0]", "doc_token_id": "[unused1]", "query_token": "[Q]",
        "doc_token": "[D]", "dim": DIM, "similarity": "cosine", "query_maxlen": QUERY_MAXLEN,
        "doc_maxlen": DOC_MAXLEN, "mask_punctuation": True, "attend_to_mask_tokens": False,
        "checkpoint": "colbert-tiny"})
    torch.manual_seed(41)
    state = mf.random_state(models.build(c))
    full = {"bert." + k: t for k, t in state.items()}
    full["linear.weight"] = 0.2 * torch.randn(DIM, c["hidden_size"])
    safetensors_io.save(os.path.join(d, "model.safetensors"),
                        {k: t.float().to(torch.float16) for k, t in full.items()})
    for f in mf.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))

    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    w = {k: t.to(torch.float64) for k, t in w.items()}
    enc = models.build(c).to(torch.float64).eval()
    enc.load_state_dict({k[5:]: t for k, t in w.items() if k.startswith("bert.")}, strict=True)
    lin = w["linear.weight"]
    skip = {wordpiece.encode(p, vocab)[1] for p in string.punctuation}

    def run(ids, mask):
        t = torch.tensor([ids])
        h = enc(t, torch.tensor([mask]), torch.zeros_like(t))[0]
        return torch.nn.functional.normalize(h @ lin.T, p=2, dim=1)

    queries, docs = [], []
    with torch.no_grad():
        for q in QUERIES:
            ids = wordpiece.encode(". " + q, vocab, QUERY_MAXLEN)
            ids[1] = vocab["[unused0]"]
            n = len(ids)
            ids += [vocab["[MASK]"]] * (QUERY_MAXLEN - n)
            v = run(ids, [1] * n + [0] * (QUERY_MAXLEN - n))
            queries.append({"text": q, "ids": ids, "n_tokens": n, "vectors": v.tolist()})
        for x in DOCS:
            ids = wordpiece.encode(". " + x, vocab, DOC_MAXLEN)
            ids[1] = vocab["[unused1]"]
            v = run(ids, [1] * len(ids))
            keep = [i for i, t in enumerate(ids) if t not in skip]
            docs.append({"text": x, "ids": ids, "n_tokens": len(ids),
                         "vectors": v[keep].tolist()})
        scores = [[float((torch.tensor(q["vectors"]) @ torch.tensor(x["vectors"]).T)
                         .max(dim=1).values.sum()) for x in docs] for q in queries]
    mf.write_json(os.path.join(mf.REPO, "tests", "golden", NAME + ".json"),
                  {"model": "tests/fixtures/" + NAME, "generator": "tools/reference/make_colbert.py",
                   "dim": DIM, "query_maxlen": QUERY_MAXLEN, "doc_maxlen": DOC_MAXLEN,
                   "queries": queries, "documents": docs, "maxsim": scores})
    print("doc vectors:", [len(x["vectors"]) for x in docs], "scores:", scores)


if __name__ == "__main__":
    main()
