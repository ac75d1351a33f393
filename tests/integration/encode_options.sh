#!/usr/bin/env bash
# Per-request encode options against independent paths to the same numbers:
# - SIE's params.options.pooling equals the model loaded with that pooling (`switchyard encode
#   --pooling`), in a batch that mixes poolings;
# - params.options.max_seq_length equals the text cut to that many tokens by hand (numbers are
#   one WordPiece token each), and `switchyard encode --max-length`;
# - TEI's truncation_direction Left equals the text's last words encoded alone;
# - TEI's /similarity equals the cosines of /embed's vectors; /embed's dimensions equals
#   /v1/encode's Matryoshka dimensions;
# - models that cannot honour an option refuse it by name (400 / TEI 424), and bad values 400.
. "$(dirname "$0")/lib/common.sh"

words=$(seq 0 99 | tr '\n' ' ' | sed 's/ $//')
"$SY" encode --model tests/fixtures/bert-tiny --pooling cls "$words" "hello world" >"$tmp/cls.jsonl"
"$SY" encode --model tests/fixtures/bert-tiny --pooling max "$words" >"$tmp/max.jsonl"
"$SY" encode --model tests/fixtures/bert-tiny --max-length 10 "$words" >"$tmp/cut10.jsonl"

sy_start serve --no-builtin-models --model bert=tests/fixtures/bert-tiny \
	--model cb=tests/fixtures/colbert-tiny --model sp=tests/fixtures/splade-tiny \
	--model nomic=tests/fixtures/nomic-tiny --model ce=tests/fixtures/bert-ce-tiny

python3 - "$URL" "$tmp" "$words" <<'PY' || fail "encode options"
import json, math, sys, urllib.error, urllib.request
url, tmp, words = sys.argv[1], sys.argv[2], sys.argv[3]
def call(path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def rows(name):
    return [json.loads(l)["dense"] for l in open(f"{tmp}/{name}.jsonl")]
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
def near(a, b, tol=1e-5):
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < tol
def encode(model, texts, **opts):
    st, r = call(f"/v1/encode/{model}", {"items": [{"text": t} for t in texts],
                                         "params": {"options": opts} if opts else {}})
    assert st == 200, (st, r)
    return [it["dense"]["values"] for it in r["items"]]
words_list = words.split()

# pooling: the model's own is mean; cls and max per request, mixed in one batch with the default
cls, mx = rows("cls"), rows("max")
got = encode("bert", [words, "hello world"], pooling="cls")
assert near(got[0], cls[0]) and near(got[1], cls[1]), "options.pooling cls"
assert near(encode("bert", [words], pooling="max")[0], mx[0]), "options.pooling max"
assert not near(cls[0], encode("bert", [words])[0]), "the model's own pooling is not cls"
st, r = call("/v1/encode/bert", {"items": [{"text": words}], "params": {"options": {"pooling": "lasttoken"}}})
assert st == 200
print("ok: options.pooling equals the model loaded with that pooling")

# max_seq_length: [CLS] + 8 numbers + [SEP]
cut = encode("bert", [words], max_seq_length=10)[0]
assert near(cut, encode("bert", [" ".join(words_list[:8])])[0]), "max_seq_length 10"
assert near(cut, rows("cut10")[0]), "max_seq_length equals --max-length"
big = encode("bert", [words], max_seq_length=100000)[0]
assert near(big, encode("bert", [words])[0]), "a limit above the model's is the model's"
st, r = call("/v1/encode/bert", {"items": [{"text": words}], "params": {"truncate": False, "options": {"max_seq_length": 10}}})
assert st == 422 and "10" in r["error"]["message"], (st, r)
print("ok: options.max_seq_length")

# TEI truncation_direction Left: bert-tiny takes 64 tokens, so the last 62 numbers remain
st, left = call("/embed", {"model": "bert", "inputs": words, "truncate": True, "truncation_direction": "Left"})
assert st == 200, (st, left)
st, tail = call("/embed", {"model": "bert", "inputs": " ".join(words_list[-62:])})
assert st == 200 and near(left[0], tail[0]), "truncation_direction Left"
st, right = call("/embed", {"model": "bert", "inputs": words, "truncate": True})
st, head = call("/embed", {"model": "bert", "inputs": " ".join(words_list[:62])})
assert near(right[0], head[0]) and not near(right[0], left[0]), "Right cuts the end"
st, r = call("/rerank", {"model": "ce", "query": "q", "texts": [words], "truncate": True, "truncation_direction": "Left"})
assert st == 422 and "Left" in r["error"], (st, r)
print("ok: TEI truncation_direction Left")

# /similarity: cosines of the unnormalised vectors
sents = ["hello world", "a cat sat on the mat", words]
st, sim = call("/similarity", {"model": "bert", "inputs": {"source_sentence": "greetings, world", "sentences": sents}, "parameters": {"truncate": True}})
assert st == 200 and len(sim) == 3, (st, sim)
st, vecs = call("/embed", {"model": "bert", "inputs": ["greetings, world"] + sents, "normalize": False, "truncate": True})
assert all(abs(s - cos(vecs[0], v)) < 1e-5 for s, v in zip(sim, vecs[1:])), (sim,)
for body, code, frag in [
    ({"model": "bert", "inputs": {"source_sentence": "x", "sentences": []}}, 400, "cannot be empty"),
    ({"model": "bert", "inputs": {"source_sentence": "x"}}, 422, "sentences"),
    ({"model": "bert", "inputs": {"source_sentence": 3, "sentences": ["y"]}}, 422, "source_sentence"),
    ({"model": "bert", "inputs": {"source_sentence": "x", "sentences": ["y", 4]}}, 422, "sentences[1]"),
    ({"model": "bert", "inputs": {"source_sentence": "x", "sentences": ["y"]}, "parameters": 5}, 422, "parameters"),
    ({"model": "cb", "inputs": {"source_sentence": "x", "sentences": ["y"]}}, 424, "multivector"),
]:
    st, r = call("/similarity", body)
    assert st == code and frag in r["error"], (body, st, r)
print("ok: TEI /similarity")

# TEI /embed dimensions = /v1/encode dimensions (Matryoshka)
st, d16 = call("/embed", {"model": "nomic", "inputs": ["hello world"], "dimensions": 16})
assert st == 200 and len(d16[0]) == 16, (st, d16)
st, r = call("/v1/encode/nomic", {"items": [{"text": "hello world"}], "params": {"dimensions": 16}})
assert near(d16[0], r["items"][0]["dense"]["values"]), "TEI dimensions"
st, r = call("/embed", {"model": "nomic", "inputs": "x", "dimensions": 0})
assert st == 422 and "dimensions" in r["error"], (st, r)

# refusals by name
for model, opts, frag in [("cb", {"pooling": "mean"}, "pooling"), ("sp", {"pooling": "cls"}, "pooling"),
                          ("cb", {"max_seq_length": 8}, "max_seq_length"),
                          ("bert", {"pooling": "median"}, "params.options.pooling"),
                          ("bert", {"max_seq_length": 0}, "params.options.max_seq_length"),
                          ("bert", {"max_seq_length": 2.5}, "params.options.max_seq_length")]:
    out = {"cb": ["multivector"], "sp": ["sparse"]}.get(model, ["dense"])
    st, r = call(f"/v1/encode/{model}", {"items": [{"text": "x"}], "params": {"output_types": out, "options": opts}})
    assert st == 400 and frag in r["error"]["message"], (model, opts, st, r)
st, r = call("/embed", {"model": "cb", "inputs": "x", "truncate": True, "truncation_direction": "Left"})
assert st in (400, 424) and r["error"], (st, r)
st, r = call("/v1/encode/bert", {"items": [{"text": "still serving"}]})
assert st == 200
print("ok: refusals name the option")
PY
echo "encode_options: all checks passed"
