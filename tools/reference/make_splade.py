#!/usr/bin/python3
"""Writes a tiny SPLADE fixture (tests/fixtures/splade-tiny/) and its golden
(tests/golden/splade-tiny.json): seeded random weights in the exact Hugging Face
BertForMaskedLM layout (bert.* encoder without a pooler; cls.predictions.transform.dense,
.transform.LayerNorm and cls.predictions.bias; the decoder weight tied to the word embeddings,
so it is not stored, as save_pretrained writes it), with the real bert-base-uncased tokenizer.

The golden is the independent reference: models.py's encoder, then the MLM head as
transformers' BertLMPredictionHead computes it (dense -> activation -> LayerNorm -> decoder with
the tied embedding matrix + bias), then SPLADE's pooling as the SPLADE papers and
naver/splade define it: w_j = max over the text's tokens of log(1 + relu(logit_j)), special
tokens included. The decoder bias is shifted negative so that, as with trained SPLADE models,
only a small share of the vocabulary is active. The golden keeps every nonzero weight.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_splade.py
"""
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

NAME = "splade-tiny"
TEXTS = [
    "what is a switchyard?",
    "A switchyard is where railway cars are sorted onto tracks.",
    "Café déjà vu, naïve façade!",
    "The Eiffel Tower was finished in 1889; millions visit it every year, climbing its stairs or "
    "taking the lifts to the top, from where on a clear day one sees far beyond the city, across "
    "the river, the parks, the boulevards and the suburbs, cut at 64 positions.",
]


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    c = mf.bert_config("bert", 2, 64, 4, 128, 64, 30522, "gelu", "float16",
                       architectures=["BertForMaskedLM"])
    d = os.path.join(mf.REPO, "tests", "fixtures", NAME)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    mf.write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(21)
    state = mf.random_state(models.build(c))
    h, v = c["hidden_size"], c["vocab_size"]
    full = {"bert." + k: t for k, t in state.items() if not k.startswith("pooler.")}
    full["cls.predictions.transform.dense.weight"] = 0.1 * torch.randn(h, h)
    full["cls.predictions.transform.dense.bias"] = 0.02 * torch.randn(h)
    full["cls.predictions.transform.LayerNorm.weight"] = 1.0 + 0.1 * torch.randn(h)
    full["cls.predictions.transform.LayerNorm.bias"] = 0.02 * torch.randn(h)
    full["cls.predictions.bias"] = -0.6 + 0.05 * torch.randn(v)
    safetensors_io.save(os.path.join(d, "model.safetensors"),
                        {k: t.float().to(torch.float16) for k, t in full.items()})
    for f in mf.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))

    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    w = {k: t.to(torch.float64) for k, t in w.items()}
    enc = models.build(c).to(torch.float64).eval()
    enc.load_state_dict({k[5:]: t for k, t in w.items() if k.startswith("bert.")}, strict=False)
    act = models.activation(c["hidden_act"])
    max_len = models.max_tokens(c)
    rows = []
    with torch.no_grad():
        for text in TEXTS:
            ids = wordpiece.encode(text, vocab, max_len)
            t = torch.tensor([ids])
            hid = enc(t, torch.ones_like(t), torch.zeros_like(t))[0]
            x = act(hid @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"])
            x = torch.nn.functional.layer_norm(x, (h,), w["cls.predictions.transform.LayerNorm.weight"],
                                               w["cls.predictions.transform.LayerNorm.bias"], c["layer_norm_eps"])
            logits = x @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
            sp = torch.log1p(torch.relu(logits)).max(dim=0).values
            nz = torch.nonzero(sp > 0).flatten()
            rows.append({"text": text, "n_tokens": len(ids), "indices": [int(i) for i in nz],
                         "values": [float(sp[i]) for i in nz]})
    mf.write_json(os.path.join(mf.REPO, "tests", "golden", NAME + ".json"),
                  {"model": "tests/fixtures/" + NAME, "generator": "tools/reference/make_splade.py",
                   "vocab_size": v, "max_length": max_len, "texts": rows})
    print(f"{NAME}: {[len(r['indices']) for r in rows]} active terms of {v}")


if __name__ == "__main__":
    main()
