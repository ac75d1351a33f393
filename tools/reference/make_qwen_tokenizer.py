#!/usr/bin/python3
"""Writes a small tokenizer.json of the kind Qwen2/Qwen3 ship (byte-level BPE: NFC, the Qwen
split regex isolated, ByteLevel without its own regex, merges by rank, the <|endoftext|>,
<|im_start|>, <|im_end|> specials, and Qwen3-Embedding's TemplateProcessing that appends
<|endoftext|>), with merges learned here from a small corpus, and the token ids an independent
reference of that pipeline (written here from the tokenizers library's documented behaviour,
with the `regex` module) gives for a set of texts: tests/tokenizers/qwen-bpe.json and
tests/golden/qwen-bpe-tokenizer.json. Vocabulary size is not the point; the pipeline is.

Run:  /usr/bin/python3 tools/reference/make_qwen_tokenizer.py   (needs the `regex` module)
"""

import collections
import json
import os
import unicodedata

import regex

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = """The quick brown fox jumps over the lazy dog. Switchyard serves small models: it tokenizes
each request, batches requests that arrive together, and runs the encoder on a pool of threads.
Don't stop -- keep going! It's 2026; we've got 3,500 employees (12.5% growth). Café déjà vu,
naïve façade. 北京是中国的首都。東京はカタカナ。 Emoji 🙂🚂 and tabs\tand
newlines\n\nare kept.   Spaces    run long. def main():\n    return 42\n"""
TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Don't stop -- keep going! It's 2026; we've got 3,500 employees (12.5% growth).",
    "Café déjà vu, naïve façade!  Cafe\u0301 (NFD e + accent).",
    "北京是中国的首都。東京はカタカナ",
    "Emoji 🙂🚂 and tabs\tand\n\nnewlines   with   spaces  ",
    "def main():\n    return 42\n",
    "<|im_start|>user\nwhat is a switchyard?<|im_end|>\n<|im_start|>assistant\n",
    "Instruct: Given a web search query\nQuery:what is the capital of France?",
    "",
]


def bytes_to_unicode():
    """GPT-2's map of the 256 bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()


def pre_tokenize(text):
    """NFC, the split regex (isolated pieces), then bytes mapped to their characters."""
    text = unicodedata.normalize("NFC", text)
    return ["".join(B2U[b] for b in piece.encode("utf-8")) for piece in regex.findall(SPLIT, text)]


def learn_merges(n_merges):
    words = collections.Counter(pre_tokenize(CORPUS))
    splits = {w: list(w) for w in words}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            s = splits[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
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


def bpe(word, ranks):
    parts = list(word)
    while len(parts) > 1:
        cands = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        r, i = min(cands)
        if r == 1 << 30:
            break
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
    return parts


def encode(text, vocab, ranks, eos):
    ids = []
    # specials are matched first and never split
    for chunk in regex.split("(" + "|".join(regex.escape(s) for s in SPECIALS) + ")", text):
        if chunk in SPECIALS:
            ids.append(vocab[chunk])
        elif chunk:
            for w in pre_tokenize(chunk):
                ids.extend(vocab[p] for p in bpe(w, ranks))
    return ids + [eos]


def main():
    merges = learn_merges(300)
    vocab = {}
    for ch in B2U.values():
        vocab.setdefault(ch, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    base = len(vocab)
    added = [{"id": base + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
    eos = base
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}},
                                    {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
                           "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [eos],
                                                                "tokens": ["<|endoftext|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(REPO, "tests", "tokenizers", "qwen-bpe.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    ranks = {m: i for i, m in enumerate(merges)}
    cases = [{"text": t, "ids": encode(t, {**vocab, **{s: base + i for i, s in enumerate(SPECIALS)}}, ranks, eos)}
             for t in TEXTS]
    with open(os.path.join(REPO, "tests", "golden", "qwen-bpe-tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "tests/tokenizers/qwen-bpe.json", "cases": cases}, f, ensure_ascii=False, indent=1)
    print(f"{len(merges)} merges, vocabulary {len(vocab)} + {len(SPECIALS)} specials; "
          f"token counts {[len(c['ids']) for c in cases]}")


if __name__ == "__main__":
    main()
