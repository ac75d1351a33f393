#!/usr/bin/env bash
# SPLADE sparse output through a real server: /v1/encode with output_types ["sparse"] equals the
# reference golden (tests/golden/splade-tiny.json), sparse_top_k / sparse_threshold /
# return_tokens, batching with concurrent requests, the model's outputs in /v1/models, and clear
# 400s: dense from a SPLADE model, sparse from a dense model, bad parameters.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_start sparse --no-builtin-models --model sp=tests/fixtures/splade-tiny \
	--model bert=tests/fixtures/bert-tiny --model osd=tests/fixtures/splade-distil-tiny
python3 - "$URL" <<'PY' || fail "sparse checks"
import http.client, json, sys, threading, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])

def req(method, path, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read())
    c.close()
    return r.status, out

g = json.load(open("tests/golden/splade-tiny.json"))["texts"]
texts = [t["text"] for t in g]
st, r = req("POST", "/v1/encode/sp", {"items": [{"text": t} for t in texts],
                                       "params": {"output_types": ["sparse"]}})
assert st == 200, (st, r)
first = [item["sparse"] for item in r["items"]]
for item, want in zip(r["items"], g):
    sp = item["sparse"]
    assert "dense" not in item
    assert sp["indices"] == sorted(sp["indices"])
    got = dict(zip(sp["indices"], sp["values"]))
    ref = dict(zip(want["indices"], want["values"]))
    for k in set(got) | set(ref):
        assert abs(got.get(k, 0) - ref.get(k, 0)) < 1e-5, (k, got.get(k), ref.get(k))

# top_k keeps the k largest (in index order); threshold drops small weights; tokens name terms.
st, r = req("POST", "/v1/encode/sp", {"items": [{"text": texts[1]}], "params": {
    "output_types": ["sparse"], "sparse_top_k": 5, "return_tokens": True}})
sp = r["items"][0]["sparse"]
ref = sorted(zip(g[1]["values"], g[1]["indices"]), reverse=True)[:5]
assert sorted(sp["indices"]) == sorted(i for _, i in ref), (sp, ref)
assert len(sp["tokens"]) == 5 and all(isinstance(t, str) and t for t in sp["tokens"])
vocab = open("tests/fixtures/splade-tiny/vocab.txt", encoding="utf-8").read().split("\n")
assert sp["tokens"] == [vocab[i] for i in sp["indices"]]
st, r = req("POST", "/v1/encode/sp", {"items": [{"text": texts[1]}], "params": {
    "output_types": ["sparse"], "sparse_threshold": 0.2}})
kept = r["items"][0]["sparse"]["values"]
assert all(v > 0.2 for v in kept)
assert abs(len(kept) - sum(1 for v in g[1]["values"] if v > 0.2)) <= 1  # float ties at 0.2

# Concurrent requests are batched and each gets its own answer.
res = {}
def one(k):
    res[k] = req("POST", "/v1/encode/sp", {"items": [{"text": texts[k % 4]}], "params": {"output_types": ["sparse"]}})
ths = [threading.Thread(target=one, args=(k,)) for k in range(8)]
[t.start() for t in ths]; [t.join() for t in ths]
for k in range(8):
    assert res[k][0] == 200, res[k]
    got = res[k][1]["items"][0]["sparse"]
    assert got["indices"] == first[k % 4]["indices"]
    assert max(abs(a - b) for a, b in zip(got["values"], first[k % 4]["values"])) < 1e-6

# DistilBERT SPLADE with idf.json: documents through the network, queries from the idf weights.
gd = json.load(open("tests/golden/splade-distil-tiny.json"))["texts"]
for want in gd:
    st, r = req("POST", "/v1/encode/osd", {"items": [{"text": want["text"]}], "params": {
        "output_types": ["sparse"], "is_query": want["is_query"], "return_tokens": True}})
    assert st == 200, (st, r)
    sp = r["items"][0]["sparse"]
    assert sp["indices"] == want["indices"], (want["text"], sp["indices"], want["indices"])
    assert max([abs(a - b) for a, b in zip(sp["values"], want["values"])] + [0]) < 1e-5
    if want["is_query"]:
        assert "[CLS]" in sp["tokens"]

st, m = req("GET", "/v1/models/sp")
assert m["arch"] == "splade" and m["outputs"] == ["sparse"] and m["dims"] == {"sparse": 30522}, m
for path, body, frag in [
    ("/v1/encode/sp", {"items": [{"text": "x"}]}, "is a sparse (SPLADE) model"),
    ("/v1/encode/bert", {"items": [{"text": "x"}], "params": {"output_types": ["sparse"]}}, "does not support sparse"),
    ("/v1/encode/sp", {"items": [{"text": "x"}], "params": {"output_types": ["sparse", "dense"]}}, "one output type"),
    ("/v1/encode/sp", {"items": [{"text": "x"}], "params": {"output_types": ["sparse"], "sparse_top_k": 0}}, "sparse_top_k"),
    ("/v1/encode/sp", {"items": [{"text": "x"}], "params": {"output_types": ["sparse"], "sparse_threshold": -1}}, "sparse_threshold"),
    ("/v1/encode/sp", {"items": [{"text": "x"}], "params": {"output_types": ["sparse"], "return_tokens": 1}}, "return_tokens"),
    ("/v1/embeddings", {"model": "sp", "input": "x"}, "sparse"),
]:
    st, r = req("POST", path, body)
    assert st == 400 and frag in r["error"]["message"], (path, st, r)
    st, _ = req("GET", "/healthz")
    assert st == 200
print("ok: sparse output")
PY
