#!/usr/bin/python3
"""Writes a tiny token-classification (NER) fixture (tests/fixtures/ner-tiny/) and its golden
(tests/golden/ner-tiny.json): seeded random weights in the exact Hugging Face
BertForTokenClassification layout (bert.* encoder without a pooler, classifier.weight
[labels][hidden] and classifier.bias, id2label in config.json with the CoNLL-2003 IOB2 labels
dslim/bert-base-NER uses), with the real bert-base-uncased tokenizer files.

The golden is the independent reference: models.py's encoder in float64, the linear classifier
on every token, softmax, then the entity grouping of transformers' TokenClassificationPipeline
re-written here from its documented behaviour (aggregation strategies simple, first, average and
max; words made of a first token and its "##" continuations, which the pipeline detects as a
vocabulary piece longer than the text it covers; an [UNK] always starts a word; groups continue
while the entity type stays the same and the label is not B-; a group's score is the mean of its
members'; "O" groups dropped). Offsets are character offsets into the text, as Python reports
them. The classifier is scaled up so that labels change often along a text, which exercises the
grouping; the per-token probabilities are in the golden too.

Run with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_ner.py
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

NAME = "ner-tiny"
LABELS = ["O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
TEXTS = [
    "Tim Cook is the CEO of Apple.",
    "My name is Wolfgang and I live in Berlin.",
    "Switchyard runs embeddings, rerankers and extractors from one endpoint in Zürich.",
    "Café déjà vu, naïve façade!",
    "Emoji 🙂 and 中文 both count as characters.",
    "The Eiffel Tower was finished in 1889; millions visit it every year, climbing its stairs or "
    "taking the lifts to the top, from where on a clear day one sees far beyond the city, across "
    "the river, the parks, the boulevards and the suburbs, cut at 64 positions.",
    "",
]
STRATEGIES = ["simple", "first", "average", "max"]


def tag(label):
    if label.startswith("B-"):
        return "B", label[2:]
    if label.startswith("I-"):
        return "I", label[2:]
    return "I", label


def aggregate(tokens, strategy):
    """tokens: dicts with start, end, probs (list), is_subword. Returns the entity groups."""
    def best(p):
        i = max(range(len(p)), key=lambda k: (p[k], -k))
        return i, p[i]

    cands = []
    if strategy == "simple":
        for t in tokens:
            i, s = best(t["probs"])
            cands.append({"label": LABELS[i], "score": s, "start": t["start"], "end": t["end"]})
    else:
        words, cur = [], None
        for t in tokens:
            if cur is None or not t["is_subword"]:
                if cur is not None:
                    words.append(cur)
                cur = [t]
            else:
                cur.append(t)
        if cur is not None:
            words.append(cur)
        for w in words:
            if strategy == "first":
                i, s = best(w[0]["probs"])
            elif strategy == "max":
                top = max(w, key=lambda t: max(t["probs"]))  # first of equals
                i, s = best(top["probs"])
            else:
                mean = [sum(t["probs"][k] for t in w) / len(w) for k in range(len(LABELS))]
                i, s = best(mean)
            cands.append({"label": LABELS[i], "score": s, "start": w[0]["start"],
                          "end": w[-1]["end"]})
    groups, cur = [], []
    for c in cands:
        if cur:
            bi, t = tag(c["label"])
            _, last_t = tag(cur[-1]["label"])
            if not (t == last_t and bi != "B"):
                groups.append(cur)
                cur = []
        cur.append(c)
    if cur:
        groups.append(cur)
    out = []
    for g in groups:
        label = g[0]["label"].split("-", 1)[-1]
        if label == "O":
            continue
        out.append({"label": label, "score": sum(c["score"] for c in g) / len(g),
                    "start": g[0]["start"], "end": g[-1]["end"]})
    return out


def main():
    shared = os.environ.get("SY_SHARED", os.path.join(mf.REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tok_dir, "vocab.txt"))
    c = mf.bert_config("bert", 2, 64, 4, 128, 64, 30522, "gelu", "float16",
                       architectures=["BertForTokenClassification"],
                       id2label={str(i): l for i, l in enumerate(LABELS)},
                       label2id={l: i for i, l in enumerate(LABELS)})
    d = os.path.join(mf.REPO, "tests", "fixtures", NAME)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    mf.write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(31)
    state = mf.random_state(models.build(c))
    h, nl = c["hidden_size"], len(LABELS)
    full = {"bert." + k: t for k, t in state.items() if not k.startswith("pooler.")}
    full["classifier.weight"] = 0.6 * torch.randn(nl, h)
    full["classifier.bias"] = 0.1 * torch.randn(nl)
    safetensors_io.save(os.path.join(d, "model.safetensors"),
                        {k: t.float().to(torch.float16) for k, t in full.items()})
    for f in mf.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))

    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    w = {k: t.to(torch.float64) for k, t in w.items()}
    enc = models.build(c).to(torch.float64).eval()
    enc.load_state_dict({k[5:]: t for k, t in w.items() if k.startswith("bert.")}, strict=False)
    max_len = models.max_tokens(c)
    inv = {i: t for t, i in vocab.items()}
    rows = []
    with torch.no_grad():
        for text in TEXTS:
            pieces = wordpiece.tokenize_with_offsets(text, vocab)[: max_len - 2]
            ids = [vocab["[CLS]"]] + [vocab[p] for p, _, _ in pieces] + [vocab["[SEP]"]]
            t = torch.tensor([ids])
            hid = enc(t, torch.ones_like(t), torch.zeros_like(t))[0]
            probs = torch.softmax(hid @ w["classifier.weight"].T + w["classifier.bias"], dim=-1)
            tokens = []
            for k, (p, s, e) in enumerate(pieces):
                piece = inv[ids[k + 1]]
                sub = p != "[UNK]" and len(piece) != len(text[s:e])
                tokens.append({"piece": piece, "start": s, "end": e, "is_subword": sub,
                               "probs": [float(x) for x in probs[k + 1]]})
            rows.append({"text": text, "n_tokens": len(ids), "tokens": tokens,
                         "entities": {st: aggregate(tokens, st) for st in STRATEGIES}})
    mf.write_json(os.path.join(mf.REPO, "tests", "golden", NAME + ".json"),
                  {"model": "tests/fixtures/" + NAME, "generator": "tools/reference/make_ner.py",
                   "labels": LABELS, "max_length": max_len, "texts": rows})
    for r in rows:
        print(len(r["tokens"]), {s: len(e) for s, e in r["entities"].items()})


if __name__ == "__main__":
    main()
