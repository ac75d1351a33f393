#!/usr/bin/python3
"""Reference for reading SentencePiece model files (src/text/spm.c): trains two tiny models with
the sentencepiece library itself (Debian's python3-sentencepiece) -- a Unigram model with byte
fallback and user-defined symbols (the nmt_nfkc normalizer, as SigLIP's and T5's spiece.model
have) and a BPE model -- and writes tests/fixtures/spm/{unigram,bpe}.model with the ids
sentencepiece gives for a corpus of texts (non-ASCII, whitespace runs, empty strings, unknown
characters) into tests/golden/spm.json. Run: /usr/bin/python3 tools/reference/make_spm.py
"""
import io
import json
import os

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "spm")

TRAIN = """a photo of a cat. a photo of a dog! the quick brown fox jumps over the lazy dog.
Switchyard sorts railway cars onto tracks; a yard has many tracks and switches.
Café déjà vu, naïve résumé — über straße. 東京は日本の首都です。 Привет, мир!
Numbers 12345 and 3.14159 and 2026-12-03; emails like someone@example.com.
Images of cats and dogs, photos of cars, pictures of trains in the snow.
""" * 20

TEXTS = ["a photo of a cat", "A Photo Of A CAT!", "", " ", "   leading and trailing   ",
         "many     spaces\tand\ttabs\nand\nnewlines", "Café déjà vu", "東京は日本の首都です",
         "Привет, мир!", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "emoji 🙂 and ☃ snow",
         "unknown ŋ ʒ ǂ", "<sep> user symbol <sep>", "12345 3.14159", "x" * 40]


def train(kind, **kw):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TRAIN.splitlines()), model_writer=model,
                                   model_type=kind, vocab_size=kw.pop("vocab_size"),
                                   character_coverage=0.98, hard_vocab_limit=False, **kw)
    data = model.getvalue()
    path = os.path.join(OUT, kind + ".model")
    open(path, "wb").write(data)
    sp = spm.SentencePieceProcessor(model_proto=data)
    return [{"text": t, "ids": sp.encode(t)} for t in TEXTS]


def main():
    os.makedirs(OUT, exist_ok=True)
    gold = {"unigram": train("unigram", vocab_size=400, byte_fallback=True,
                             user_defined_symbols=["<sep>"], minloglevel=2, pad_id=0, eos_id=1, unk_id=2,
                             bos_id=-1),
            "bpe": train("bpe", vocab_size=400, minloglevel=2)}
    json.dump(gold, open(os.path.join(ROOT, "tests", "golden", "spm.json"), "w"),
              ensure_ascii=False, indent=0)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
