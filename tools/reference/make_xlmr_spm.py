#!/usr/bin/python3
"""Reference for fairseq-style sentencepiece.bpe.model directories (XLM-RoBERTa: BAAI/bge-m3,
intfloat/multilingual-e5, bge-reranker-v2-m3) read without a tokenizer.json (src/text/spm.c,
spm_options.fairseq). Trains two tiny models with the sentencepiece library itself (Debian's
python3-sentencepiece) -- a BPE model and a Unigram model, both with sentencepiece's default
<unk>=0 <s>=1 </s>=2 as fairseq's are -- writes each to
tests/fixtures/xlmr-spm/{bpe,unigram}/sentencepiece.bpe.model with a tokenizer_config.json, and
the ids transformers' slow XLMRobertaTokenizer gives into tests/golden/xlmr_spm.json.

The id mapping is written here from the tokenizer's documented behaviour (not its code): the
fairseq dictionary puts <s>=0 <pad>=1 </s>=2 <unk>=3 first, then every sentencepiece piece at
its sentencepiece id + 1 (the "fairseq offset"); sentencepiece's own <unk> (id 0) becomes 3;
<mask> comes last, at len(spm) + 1. A text is split on the special tokens first (<mask> takes
the spaces on its left), every other part is encoded by sentencepiece on its own, and the
sequence is <s> A </s>, a pair <s> A </s> </s> B </s>.
Run: /usr/bin/python3 tools/reference/make_xlmr_spm.py
"""
import io
import json
import os
import re

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "xlmr-spm")

TRAIN = """a photo of a cat. a photo of a dog! the quick brown fox jumps over the lazy dog.
Switchyard sorts railway cars onto tracks; a yard has many tracks and switches.
Café déjà vu, naïve résumé — über straße. 東京は日本の首都です。 Привет, мир!
Numbers 12345 and 3.14159 and 2026-12-03; emails like someone@example.com.
Der schnelle braune Fuchs springt über den faulen Hund. El zorro marrón salta.
""" * 20

TEXTS = ["a photo of a cat", "A Photo Of A CAT!", "", " ", "   leading and trailing   ",
         "many     spaces\tand\ttabs\nand\nnewlines", "Café déjà vu", "東京は日本の首都です",
         "Привет, мир!", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "emoji 🙂 and ☃ snow",
         "unknown ŋ ʒ ǂ", "12345 3.14159", "x" * 40, "der Fuchs springt über den Hund",
         "a <mask> of a cat", "<mask>", "the dog<mask>"]

PAIRS = [("what is a cat?", "a photo of a cat"), ("", "Café"), ("東京", "")]

SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


def fairseq_ids(sp, text):
    """The ids of text without <s> / </s>: split on special tokens, then spm + offset."""
    mask = sp.get_piece_size() + 1
    ids = []
    # <mask> strips the whitespace before it (lstrip); the other specials strip nothing.
    parts = re.split(r"(\s*<mask>|<s>|</s>|<pad>|<unk>)", text)
    for k, part in enumerate(parts):
        if k % 2 == 1:
            tok = part.strip() if part.endswith("<mask>") else part
            ids.append(mask if tok == "<mask>" else SPECIALS[tok])
            continue
        if not part:
            continue
        for piece in sp.encode(part, out_type=str):
            i = sp.piece_to_id(piece)
            ids.append(SPECIALS["<unk>"] if i == sp.unk_id() else i + 1)
    return ids


def train(kind):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TRAIN.splitlines()), model_writer=model,
                                   model_type=kind, vocab_size=420, character_coverage=0.98,
                                   hard_vocab_limit=False, minloglevel=2, num_threads=1)
    data = model.getvalue()
    d = os.path.join(OUT, kind)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "sentencepiece.bpe.model"), "wb").write(data)
    json.dump({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512},
              open(os.path.join(d, "tokenizer_config.json"), "w"))
    sp = spm.SentencePieceProcessor(model_proto=data)
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, 2)
    out = {"mask_id": sp.get_piece_size() + 1, "texts": [], "pairs": []}
    for t in TEXTS:
        out["texts"].append({"text": t, "ids": [0] + fairseq_ids(sp, t) + [2]})
    for a, b in PAIRS:
        out["pairs"].append({"a": a, "b": b,
                             "ids": [0] + fairseq_ids(sp, a) + [2, 2] + fairseq_ids(sp, b) + [2]})
    return out


def main():
    gold = {"bpe": train("bpe"), "unigram": train("unigram")}
    json.dump(gold, open(os.path.join(ROOT, "tests", "golden", "xlmr_spm.json"), "w"),
              ensure_ascii=False, indent=0)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
