#!/usr/bin/python3
"""Writes tiny cross-encoder fixtures (tests/fixtures/<name>/) and their goldens
(tests/golden/<name>.json): seeded random weights in the exact Hugging Face layouts of
BertForSequenceClassification (bert.* encoder with its pooler, classifier.{weight,bias}) and
XLMRobertaForSequenceClassification (roberta.* encoder without a pooler, classifier.dense and
classifier.out_proj) and DistilBertForSequenceClassification (distilbert.* encoder,
pre_classifier + ReLU + classifier), with the real bert-base-uncased tokenizer files.

The goldens come from the independent reference (models.py, written from the transformers
modeling code; the heads below follow BertForSequenceClassification and
RobertaClassificationHead: first token -> dense -> tanh -> projection) in float64 on pairs
tokenised by wordpiece.py as [CLS] query [SEP] document [SEP], the document cut first when the
pair is too long, token types 0/1 for BERT and all 0 for the RoBERTa family (type_vocab_size 1).
Scores: sigmoid for one label, else the softmax probability of the last label.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_cross_encoders.py
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

PAIRS = [
    ("what is a switchyard?", "A switchyard is where railway cars are sorted onto tracks."),
    ("what is a switchyard?", "Bananas are rich in potassium."),
    ("capital of France", "Paris is the capital and largest city of France."),
    ("capital of France", "The Eiffel Tower was finished in 1889; millions visit it every year, "
     "climbing its stairs or taking the lifts to the top, from where on a clear day one sees "
     "far beyond the city, across the river, the parks, the boulevards and the suburbs, "
     "so this document is cut to the model's 64 positions while the query stays whole."),
    ("naïve café", "Café déjà vu, naïve façade!"),
    ("x", "y"),
]

FIXTURES = [
    {"name": "bert-ce-tiny", "seed": 11, "head": "bert",
     "config": mf.bert_config("bert", 2, 64, 4, 128, 64, 30522, "gelu", "float16",
                              architectures=["BertForSequenceClassification"],
                              id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})},
    {"name": "xlmr-ce-tiny", "seed": 12, "head": "roberta",
     "config": mf.bert_config("roberta", 2, 64, 4, 128, 66, 30522, "gelu", "bfloat16",
                              architectures=["XLMRobertaForSequenceClassification"],
                              model_type="xlm-roberta",
                              id2label={"0": "irrelevant", "1": "relevant"},
                              label2id={"irrelevant": 0, "relevant": 1})},
    {"name": "distilbert-ce-tiny", "seed": 13, "head": "distilbert",
     "config": mf.bert_config("distilbert", 2, 64, 4, 128, 64, 30522, "gelu", "float16",
                              architectures=["DistilBertForSequenceClassification"],
                              id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})},
]


def head_state(fx, n_labels):
    h = fx["config"].get("hidden_size") or fx["config"]["dim"]
    if fx["head"] == "distilbert":  # DistilBertForSequenceClassification
        return {"pre_classifier.weight": 0.1 * torch.randn(h, h),
                "pre_classifier.bias": 0.02 * torch.randn(h),
                "classifier.weight": 0.2 * torch.randn(n_labels, h),
                "classifier.bias": 0.02 * torch.randn(n_labels)}
    if fx["head"] == "bert":
        return {"classifier.weight": 0.2 * torch.randn(n_labels, h),
                "classifier.bias": 0.02 * torch.randn(n_labels)}
    return {"classifier.dense.weight": 0.1 * torch.randn(h, h),
            "classifier.dense.bias": 0.02 * torch.randn(h),
            "classifier.out_proj.weight": 0.2 * torch.randn(n_labels, h),
            "classifier.out_proj.bias": 0.02 * torch.randn(n_labels)}


def encode_pair(q, d, vocab, max_len, zero_types):
    qa = [vocab[t] for t in wordpiece.tokenize(q, vocab)]
    da = [vocab[t] for t in wordpiece.tokenize(d, vocab)]
    room = max_len - 3 - len(qa)
    if room < 0:
        raise ValueError("query too long for the fixture")
    da = da[:room]
    ids = [vocab["[CLS]"]] + qa + [vocab["[SEP]"]] + da + [vocab["[SEP]"]]
    types = [0] * (len(qa) + 2) + [0 if zero_types else 1] * (len(da) + 1)
    return ids, types


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    for fx in FIXTURES:
        c = fx["config"]
        n_labels = len(c["id2label"])
        d = os.path.join(mf.REPO, "tests", "fixtures", fx["name"])
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        mf.write_json(os.path.join(d, "config.json"), c)
        torch.manual_seed(fx["seed"])
        enc = models.build(c)
        state = mf.random_state(enc)
        prefix = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[fx["head"]]
        full = {prefix + k: v for k, v in state.items()
                if fx["head"] == "bert" or not k.startswith("pooler.")}
        full.update({k: v.float() for k, v in head_state(fx, n_labels).items()})
        disk = mf.TORCH_DTYPES[c["torch_dtype"]]
        safetensors_io.save(os.path.join(d, "model.safetensors"), {k: v.to(disk) for k, v in full.items()})
        for f in mf.TOKENIZER_FILES:
            shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))

        # Reference: read the weights back as stored, in float64.
        w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
        w = {k: v.to(torch.float64) for k, v in w.items()}
        ref = models.build(c).to(torch.float64).eval()
        enc_state = {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}
        ref.load_state_dict(enc_state, strict=fx["head"] != "roberta")  # RoBERTa heads: no pooler
        max_len = models.max_tokens(c)
        zero_types = c.get("type_vocab_size", 2) <= 1  # DistilBERT ignores token types anyway
        rows = []
        with torch.no_grad():
            for q, doc in PAIRS:
                ids, types = encode_pair(q, doc, vocab, max_len, zero_types)
                t = torch.tensor([ids])
                hid = ref(t, torch.ones_like(t), torch.tensor([types]))
                x = hid[0, 0]
                if fx["head"] == "bert":
                    h1 = torch.tanh(w["bert.pooler.dense.weight"] @ x + w["bert.pooler.dense.bias"])
                    logits = w["classifier.weight"] @ h1 + w["classifier.bias"]
                elif fx["head"] == "distilbert":
                    h1 = torch.relu(w["pre_classifier.weight"] @ x + w["pre_classifier.bias"])
                    logits = w["classifier.weight"] @ h1 + w["classifier.bias"]
                else:
                    h1 = torch.tanh(w["classifier.dense.weight"] @ x + w["classifier.dense.bias"])
                    logits = w["classifier.out_proj.weight"] @ h1 + w["classifier.out_proj.bias"]
                score = torch.sigmoid(logits[0]) if n_labels == 1 else torch.softmax(logits, 0)[-1]
                rows.append({"query": q, "document": doc, "input_ids": ids, "token_type_ids": types,
                             "logits": [float(v) for v in logits], "score": float(score)})
        mf.write_json(os.path.join(mf.REPO, "tests", "golden", fx["name"] + ".json"),
                      {"model": "tests/fixtures/" + fx["name"], "generator":
                       "tools/reference/make_cross_encoders.py", "num_labels": n_labels,
                       "max_length": max_len, "pairs": rows})
        print(f"{fx['name']}: {len(rows)} pairs, scores {[round(r['score'], 4) for r in rows]}")


if __name__ == "__main__":
    main()
