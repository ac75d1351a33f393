#!/usr/bin/python3
"""Writes a tiny DistilBERT SPLADE fixture with an inference-free query side
(tests/fixtures/splade-distil-tiny/) and its golden (tests/golden/splade-distil-tiny.json), in
the layout of OpenSearch's doc-only sparse encoders (opensearch-neural-sparse-encoding-doc-v2-
distill): a DistilBertForMaskedLM checkpoint (distilbert.* encoder; vocab_transform,
vocab_layer_norm and vocab_projector.bias, the projector weight tied to the word embeddings and
so not stored) plus an idf.json of token weights, with the real bert-base-uncased tokenizer.

The golden is the independent reference, following that model card's code:
  documents: models.py's DistilBERT encoder, then transformers' DistilBertForMaskedLM head
             (vocab_transform -> activation -> vocab_layer_norm -> vocab_projector with the
             tied embeddings + bias), max over the text's tokens, log(1 + relu(.)), and the
             special tokens' weights set to 0.
  queries:   no network: a vector over the vocabulary with 1 at each input id (special tokens
             included), times the idf vector built from idf.json (tokens absent weigh 0;
             tokens not in the vocabulary are skipped).

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_splade_distil.py
"""
import json
import os
import random
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

NAME = "splade-distil-tiny"
DOCS = [
    "A switchyard is where railway cars are sorted onto tracks.",
    "Café déjà vu, naïve façade!",
    "The Eiffel Tower was finished in 1889; millions visit it every year, climbing its stairs or "
    "taking the lifts to the top, from where on a clear day one sees far beyond the city, across "
    "the river, the parks, the boulevards and the suburbs, cut at 64 positions.",
]
QUERIES = ["what is a switchyard?", "eiffel tower height", "zzzz qqqq"]


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    inv = {i: t for t, i in vocab.items()}
    c = mf.bert_config("distilbert", 2, 64, 4, 128, 64, 30522, "gelu", "float16",
                       architectures=["DistilBertForMaskedLM"])
    d = os.path.join(mf.REPO, "tests", "fixtures", NAME)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    mf.write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(51)
    state = mf.random_state(models.build(c))
    h, v = c["dim"], c["vocab_size"]
    full = {"distilbert." + k: t for k, t in state.items()}
    full["vocab_transform.weight"] = 0.1 * torch.randn(h, h)
    full["vocab_transform.bias"] = 0.02 * torch.randn(h)
    full["vocab_layer_norm.weight"] = 1.0 + 0.1 * torch.randn(h)
    full["vocab_layer_norm.bias"] = 0.02 * torch.randn(h)
    full["vocab_projector.bias"] = -0.6 + 0.05 * torch.randn(v)
    safetensors_io.save(os.path.join(d, "model.safetensors"),
                        {k: t.float().to(torch.float16) for k, t in full.items()})
    for f in mf.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))
    # idf.json: weights for every token of the queries but "qqqq", for [CLS] and [SEP], for
    # 500 random tokens, and for a string that is not in the vocabulary.
    rng = random.Random(7)
    idf = {}
    for q in QUERIES:
        for t in wordpiece.tokenize(q, vocab):
            if t != "qq" and not t.startswith("##qq"):
                idf[t] = round(rng.uniform(0.5, 8.0), 4)
    idf["[CLS]"], idf["[SEP]"] = 0.25, 0.125
    for i in rng.sample(range(1000, v), 500):
        idf[inv[i]] = round(rng.uniform(0.1, 10.0), 4)
    idf["not-a-vocabulary-token"] = 99.0
    with open(os.path.join(d, "idf.json"), "w", encoding="utf-8") as f:
        json.dump(idf, f, ensure_ascii=False, sort_keys=True)

    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    w = {k: t.to(torch.float64) for k, t in w.items()}
    enc = models.build(c).to(torch.float64).eval()
    enc.load_state_dict({k[11:]: t for k, t in w.items() if k.startswith("distilbert.")}, strict=True)
    act = models.activation(c["activation"])
    max_len = models.max_tokens(c)
    special = [vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")]
    idf_vec = torch.zeros(v, dtype=torch.float64)
    for t, x in idf.items():
        if t in vocab:
            idf_vec[vocab[t]] = x
    rows = []
    with torch.no_grad():
        for text in DOCS:
            ids = wordpiece.encode(text, vocab, max_len)
            t = torch.tensor([ids])
            hid = enc(t, torch.ones_like(t), torch.zeros_like(t))[0]
            x = act(hid @ w["vocab_transform.weight"].T + w["vocab_transform.bias"])
            x = torch.nn.functional.layer_norm(x, (h,), w["vocab_layer_norm.weight"],
                                               w["vocab_layer_norm.bias"], 1e-12)
            logits = x @ w["distilbert.embeddings.word_embeddings.weight"].T + w["vocab_projector.bias"]
            sp = torch.log1p(torch.relu(logits.max(dim=0).values))
            sp[special] = 0
            nz = torch.nonzero(sp > 0).flatten()
            rows.append({"text": text, "is_query": False, "n_tokens": len(ids),
                         "indices": [int(i) for i in nz], "values": [float(sp[i]) for i in nz]})
        for text in QUERIES:
            ids = wordpiece.encode(text, vocab, max_len)
            qv = torch.zeros(v, dtype=torch.float64)
            qv[ids] = 1
            qv = qv * idf_vec
            nz = torch.nonzero(qv > 0).flatten()
            rows.append({"text": text, "is_query": True, "n_tokens": len(ids),
                         "indices": [int(i) for i in nz], "values": [float(qv[i]) for i in nz]})
    mf.write_json(os.path.join(mf.REPO, "tests", "golden", NAME + ".json"),
                  {"model": "tests/fixtures/" + NAME, "generator": "tools/reference/make_splade_distil.py",
                   "vocab_size": v, "max_length": max_len, "texts": rows})
    print(f"{NAME}: {[len(r['indices']) for r in rows]} active terms of {v}")


if __name__ == "__main__":
    main()
