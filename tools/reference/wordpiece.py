"""An independent, deliberately plain implementation of the BERT tokenizer (the "basic" tokenizer
followed by greedy longest-match-first WordPiece), used to produce the token ids of the goldens
without the `transformers` or `tokenizers` packages.

It follows the behaviour of Hugging Face's BertTokenizer / BertNormalizer + BertPreTokenizer for
an uncased vocabulary (do_lower_case=True, strip_accents unset, tokenize_chinese_chars=True):

1. Clean: drop U+0000, U+FFFD and control characters (Unicode categories Cc/Cf, except tab,
   newline and carriage return, which count as whitespace); map every whitespace character
   (space, \\t, \\n, \\r, category Zs) to a plain space.
2. Put spaces around every CJK ideograph (the CJK Unified Ideographs blocks and their extensions
   and compatibility blocks), so that each one becomes a word of its own.
3. Split on whitespace. Lowercase each word, decompose it (NFD) and drop combining marks (Mn),
   which removes accents.
4. Split each word into runs of non-punctuation and single punctuation characters. Punctuation
   is ASCII 33-47, 58-64, 91-96, 123-126 or any Unicode category starting with "P".
5. WordPiece each piece: a piece longer than 100 characters becomes [UNK]; otherwise take the
   longest vocabulary prefix, then the longest "##"-prefixed continuation, and so on; if at some
   point no continuation matches, the whole piece becomes [UNK].
6. Wrap in [CLS] ... [SEP], truncating the word pieces first so the total fits max_length.
"""

import unicodedata

MAX_CHARS_PER_WORD = 100


def load_vocab(path):
    """Reads vocab.txt: one token per line, the id is the 0-based line number."""
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            tok = line.rstrip("\n")
            if tok not in vocab:
                vocab[tok] = i
    return vocab


def _is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


# CJK ideograph blocks that BERT isolates (Hangul, Hiragana and Katakana are not among them).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def basic_tokenize(text):
    """Steps 1-4 above: returns the list of pre-tokens (strings)."""
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            cleaned.append(" ")
        elif _is_cjk(ch):
            cleaned.append(" " + ch + " ")
        else:
            cleaned.append(ch)
    words = "".join(cleaned).split(" ")
    out = []
    for w in words:
        if not w:
            continue
        w = w.lower()
        w = "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn")
        cur = []
        for c in w:
            if _is_punctuation(c):
                if cur:
                    out.append("".join(cur))
                    cur = []
                out.append(c)
            else:
                cur.append(c)
        if cur:
            out.append("".join(cur))
    return out


def wordpiece(word, vocab, unk="[UNK]"):
    """Step 5 above for one pre-token: returns its list of sub-word strings."""
    if len(word) > MAX_CHARS_PER_WORD:
        return [unk]
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab):
    """Returns the word-piece strings of `text` without special tokens."""
    toks = []
    for w in basic_tokenize(text):
        toks.extend(wordpiece(w, vocab))
    return toks


def encode(text, vocab, max_length=None):
    """Returns the ids [CLS] pieces [SEP], truncating the pieces (from the right) so that the result
    has at most max_length ids; [SEP] is always kept, as Hugging Face's truncation does."""
    ids = [vocab[t] for t in tokenize(text, vocab)]
    if max_length is not None:
        ids = ids[: max(0, max_length - 2)]
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]


def tokenize_with_offsets(text, vocab, unk="[UNK]"):
    """The word pieces of `text` (no special tokens) with the character range [start, end) of
    `text` each one covers: the same steps as tokenize(), every normalised character remembering
    the input character it came from (NFD expansions and dropped accents map back to their
    character). A piece covers from its first character's origin to its last one's, plus one;
    an [UNK] covers its whole pre-token."""
    chars = []  # (normalised char, index of the input char)
    for i, ch in enumerate(text):
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            chars.append((" ", i))
        elif _is_cjk(ch):
            chars.extend([(" ", i), (ch, i), (" ", i)])
        else:
            for c in unicodedata.normalize("NFD", ch.lower()):
                if unicodedata.category(c) != "Mn":
                    chars.append((c, i))
    words, cur = [], []
    for c, i in chars + [(" ", len(text))]:
        if c == " ":
            if cur:
                words.append(cur)
            cur = []
        elif _is_punctuation(c):
            if cur:
                words.append(cur)
            words.append([(c, i)])
            cur = []
        else:
            cur.append((c, i))
    out = []
    for w in words:
        s = "".join(c for c, _ in w)
        pieces = wordpiece(s, vocab, unk)
        if pieces == [unk]:
            out.append((unk, w[0][1], w[-1][1] + 1))
            continue
        pos = 0
        for p in pieces:
            n = len(p) - 2 if p.startswith("##") else len(p)
            out.append((p, w[pos][1], w[pos + n - 1][1] + 1))
            pos += n
    return out
