"""Shared by the reference scripts of encoders outside the BERT module tree (make_mpnet.py,
make_jina_bert.py): the fixture directory around a model (tokenizer files of bert-tiny,
sentence-transformers mean pooling + Normalize) and the golden JSON (each text alone, in float64
from the weights as stored on disk: ids, last hidden state, sentence embedding), with the
self-checks every such golden passes (float32 close to float64, a right-padded batch equal to
the texts one by one)."""

import json
import os
import shutil

import torch

import make_fixtures as mf
import models
import safetensors_io
import wordpiece

TOKENIZER_SOURCE = os.path.join(mf.REPO, "tests", "fixtures", "bert-tiny")


def write_fixture_dir(name, config, state, dtype, max_seq_length):
    """tests/fixtures/<name>/: config.json, model.safetensors (state as dtype), tokenizer files,
    modules.json with mean pooling and Normalize, sentence_bert_config.json's max_seq_length
    (which sentence-transformers applies over the tokenizer's own truncation at 128). Returns the
    directory."""
    d = os.path.join(mf.REPO, "tests", "fixtures", name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "1_Pooling"))
    mf.write_json(os.path.join(d, "config.json"), config)
    safetensors_io.save(os.path.join(d, "model.safetensors"), {k: v.to(dtype) for k, v in state.items()})
    for f in mf.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TOKENIZER_SOURCE, f), os.path.join(d, f))
    mf.write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    mf.write_json(os.path.join(d, "sentence_bert_config.json"),
                  {"max_seq_length": max_seq_length, "do_lower_case": False})
    mf.write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": config["hidden_size"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    return d


def load_weights(d, dtype):
    w, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    return {k: v.to(dtype) for k, v in w.items()}


def _round(t):
    return [float(f"{x:.8g}") for x in t.flatten().tolist()]


def write_golden(name, d, build, texts, max_len, extra=None):
    """build(dtype) -> a module loaded from d whose forward(ids [B, T], mask [B, T]) gives the last
    hidden state [B, T, H]. Writes tests/golden/<name>.json; returns the self-check failures."""
    vocab = wordpiece.load_vocab(os.path.join(TOKENIZER_SOURCE, "vocab.txt"))
    ids = [wordpiece.encode(t, vocab, max_len) for t in texts]
    m64, m32 = build(torch.float64), build(torch.float32)
    rows, failures = [], []
    worst32 = 0.0
    with torch.no_grad():
        singles = []
        for text, x in zip(texts, ids):
            t = torch.tensor([x])
            mask = torch.ones_like(t)
            h = m64(t, mask)
            e = models.normalize(models.pool(h, mask, "mean"))
            worst32 = max(worst32, (m32(t, mask).double() - h).abs().max().item())
            singles.append(h[0])
            rows.append({"text": text, "ids": x, "hidden": _round(h[0]), "embedding": _round(e[0])})
        # The same texts right-padded into one batch (pad id 0) must give the same valid rows.
        width = max(len(x) for x in ids)
        b = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros_like(b)
        for i, x in enumerate(ids):
            b[i, :len(x)] = torch.tensor(x)
            mask[i, :len(x)] = 1
        hb = m64(b, mask)
        worst_batch = max((hb[i, :len(x)] - singles[i]).abs().max().item() for i, x in enumerate(ids))
    print(f"{name}: lengths {[len(x) for x in ids]}; float32 vs float64 {worst32:.2e}; "
          f"padded batch vs one by one {worst_batch:.2e}")
    if worst32 > 1e-4:
        failures.append(f"{name}: float32 reference differs from float64 by {worst32}")
    if worst_batch > 1e-10:
        failures.append(f"{name}: padded batch differs from one by one by {worst_batch}")
    doc = {"model": "tests/fixtures/" + name, "generator": f"tools/reference/make_{name.rsplit('-', 1)[0].replace('-', '_')}.py",
           "hidden_size": int(singles[0].shape[-1]), "max_length": max_len,
           "notes": "Each text alone (no padding), float64 reference on the weights as stored; hidden is the "
                    "last hidden state [n_tokens][hidden] row-major; embedding is mean pooling then L2 "
                    "normalisation (sentence-transformers). Tolerances: 1e-4 on hidden, cosine >= 0.99999.",
           "texts": rows}
    if extra:
        doc.update(extra)
    with open(os.path.join(mf.REPO, "tests", "golden", name + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
        f.write("\n")
    return failures
