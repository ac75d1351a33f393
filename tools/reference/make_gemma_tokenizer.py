#!/usr/bin/python3
"""Writes a small tokenizer.json of the kind Gemma 2/3 and EmbeddingGemma ship (SentencePiece BPE
converted by transformers' GemmaConverter: a Replace normalizer turning " " into "▁", a Split
pre-tokenizer on " " merged with the previous piece (a no-op once spaces are gone, kept because
the real files have it), the BPE model with byte_fallback and fuse_unk over <0x00>..<0xFF> byte
pieces, <pad>/<eos>/<bos>/<unk> first, <start_of_turn>/<end_of_turn> as special added tokens,
a literal "\\t" piece, and the TemplateProcessing that puts <bos> first), with merges learned
here from a small corpus, and the token ids an independent reference of that pipeline (written
here from the tokenizers library's documented behaviour) gives for a set of texts:
tests/tokenizers/gemma-spm-bpe.json and tests/golden/gemma-spm-bpe-tokenizer.json. Vocabulary
size is not the point; the pipeline is: characters the vocabulary lacks (CJK, emoji, accents
outside the corpus) reach the byte pieces, runs of spaces stay "▁" runs, specials are never
split, and the empty text is <bos> alone.

Run:  /usr/bin/python3 tools/reference/make_gemma_tokenizer.py
"""

import collections
import json
import os
import re

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPACE = "\u2581"  # "▁"
FIRST = ["<pad>", "<eos>", "<bos>", "<unk>"]
TURN = ["<start_of_turn>", "<end_of_turn>"]
CORPUS = """The quick brown fox jumps over the lazy dog. Switchyard serves small models: it tokenizes
each request, batches requests that arrive together, and runs the encoder on a pool of threads.
Don't stop -- keep going! It's 2026; we've got 3,500 employees (12.5% growth). Café vu.
task: search result | query: what is a switchyard? title: none | text: a yard of switches.
def main():\n    return 42\n"""
TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "task: search result | query: what is a switchyard?",
    "title: none | text: Don't stop -- keep going! It's 2026.",
    "Café déjà vu, naïve façade!",
    "北京是中国的首都。東京はカタカナ",
    "Emoji 🙂🚂 and\ttabs\nand newlines   with   spaces  ",
    " leading space and trailing ",
    "<start_of_turn>user\nwhat is a switchyard?<end_of_turn>\n<start_of_turn>model\n",
    "def main():\n    return 42\n",
    "",
]


def normalize(text):
    """The Replace normalizer: every space becomes "▁" (nothing is prepended)."""
    return text.replace(" ", SPACE)


def learn_merges(n_merges, alphabet):
    """Pair merges over the corpus, each text line one word (SentencePiece does not split on
    spaces here: "▁" joins the pieces), counting only pairs of known symbols."""
    words = collections.Counter(normalize(line) for line in CORPUS.split("\n") if line)
    splits = {w: list(w) for w in words}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            s = splits[w]
            for a, b in zip(s, s[1:]):
                if a in alphabet and b in alphabet:
                    pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        alphabet.add(best[0] + best[1])
        for w in words:
            s, out, i = splits[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            splits[w] = out
    return merges


def bpe_ids(piece, vocab, ranks):
    """One piece: characters (unknown ones as their UTF-8 byte pieces, which never merge), then
    merges by rank, the lowest first and the leftmost on a tie."""
    parts = []  # (symbol, mergeable)
    for ch in piece:
        if ch in vocab:
            parts.append((ch, True))
        else:
            parts.extend((f"<0x{b:02X}>", False) for b in ch.encode("utf-8"))
    while len(parts) > 1:
        best = None
        for i in range(len(parts) - 1):
            (a, ma), (b, mb) = parts[i], parts[i + 1]
            r = ranks.get((a, b)) if ma and mb else None
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [(parts[i][0] + parts[i + 1][0], True)]
    return [vocab[p] for p, _ in parts]


def encode(text, vocab, ranks, specials):
    ids = [vocab["<bos>"]]
    for chunk in re.split("(" + "|".join(re.escape(s) for s in specials) + ")", text):
        if chunk in specials:
            ids.append(vocab[chunk])
        elif chunk:
            ids.extend(bpe_ids(normalize(chunk), vocab, ranks))
    return ids


def main():
    vocab = {}
    for s in FIRST + TURN:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    # the corpus's characters, but not all of them: the accents and the rest come as bytes
    alphabet = sorted(set(normalize(CORPUS.replace("\n", ""))) - set("éç"))
    for ch in alphabet + ["\t", "\n"]:
        vocab.setdefault(ch, len(vocab))
    merges = learn_merges(250, set(alphabet))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    specials = FIRST + TURN
    added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s in specials]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<bos>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<bos>": {"id": "<bos>", "ids": [vocab["<bos>"]],
                                                        "tokens": ["<bos>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "ignore_merges": False, "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    with open(os.path.join(REPO, "tests", "tokenizers", "gemma-spm-bpe.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    ranks = {m: i for i, m in enumerate(merges)}
    cases = [{"text": t, "ids": encode(t, vocab, ranks, specials)} for t in TEXTS]
    with open(os.path.join(REPO, "tests", "golden", "gemma-spm-bpe-tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "tests/tokenizers/gemma-spm-bpe.json", "cases": cases}, f, ensure_ascii=False,
                  indent=1)
    n_bytes = sum(1 for c in cases for i in c["ids"] if 6 <= i < 6 + 256)
    print(f"{len(merges)} merges, vocabulary {len(vocab)}; token counts {[len(c['ids']) for c in cases]}, "
          f"{n_bytes} byte pieces")


if __name__ == "__main__":
    main()
