#!/usr/bin/env bash
# BGE-M3 over HTTP against its golden (tools/reference/make_bge_m3.py): one /v1/encode call with
# output_types dense, sparse and multivector answers all three per item; dense is the default;
# options.score_mode picks dense, sparse, colbert or hybrid (with score_weights) on /v1/score
# and /v1/rerank; bad options, and outputs a model lacks, answer 400 saying why.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

sy_start bge_m3 --no-builtin-models --model m3=tests/fixtures/bge-m3-tiny \
	--model bert=tests/fixtures/bert-tiny --model ce=tests/fixtures/bert-ce-tiny
python3 - "$URL" <<'PY' || fail "bge-m3 over HTTP"
import http.client, json, math, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
g = json.load(open("tests/golden/bge-m3-tiny.json"))
def call(method, path, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
golds = [g["query"]] + g["documents"]
body = {"items": [{"text": x["text"]} for x in golds],
        "params": {"output_types": ["dense", "sparse", "multivector"]}}
st, r = call("POST", "/v1/encode/m3", body)
assert st == 200, (st, r)
for it, want in zip(r["items"], golds):
    assert set(it) == {"id", "dense", "sparse", "multivector"}, it.keys()
    assert cos(it["dense"]["values"], want["dense"]) >= 0.99999
    assert it["sparse"]["indices"] == want["sparse"]["indices"], (it["sparse"], want["sparse"])
    assert it["sparse"]["dims"] == 30522, "sparse dims is the vocabulary size (SIE)"
    assert max(abs(a - b) for a, b in zip(it["sparse"]["values"], want["sparse"]["values"])) < 1e-4 \
        if want["sparse"]["values"] else True
    mv = it["multivector"]
    assert mv["num_tokens"] == len(want["colbert"]) and mv["token_dims"] == 64, mv.keys()
    vecs = mv["values"]
    assert all(isinstance(v, list) and len(v) == 64 for v in vecs), "values is a list of token vectors"
    assert min(cos(a, b) for a, b in zip(vecs, want["colbert"])) >= 0.99999
# dense alone by default; sparse alone with tokens
st, r = call("POST", "/v1/encode/m3", {"items": [{"text": g["query"]["text"]}]})
assert st == 200 and set(r["items"][0]) == {"id", "dense"}, r
st, r = call("POST", "/v1/encode/m3", {"items": [{"text": g["query"]["text"]}],
                                       "params": {"output_types": ["sparse"], "return_tokens": True}})
assert st == 200 and r["items"][0]["sparse"]["indices"] == g["query"]["sparse"]["indices"], r
assert "a" in r["items"][0]["sparse"]["tokens"], r
st, r = call("GET", "/v1/models/m3")
assert st == 200 and r["arch"] == "bge-m3", r
assert r["dims"] == {"dense": 64, "sparse": 30522, "multivector": 64}, r["dims"]
st, r = call("GET", "/v1/models")
assert [m["dims"] for m in r["models"] if m["name"] == "m3"] == [r_dims := {"dense": 64, "sparse": 30522, "multivector": 64}], r["models"]
# score modes
docs = [x["text"] for x in g["documents"]]
sbody = {"query": g["query"]["text"], "items": [{"text": t} for t in docs]}
for mode in ("dense", "sparse", "colbert", "hybrid"):
    st, r = call("POST", "/v1/score/m3", dict(sbody, options={"score_mode": mode}))
    assert st == 200, (mode, st, r)
    got = {int(x["item_id"].split("-")[1]): x["score"] for x in r["scores"]} if "scores" in r else None
    assert got is not None, r
    for i, s in got.items():
        want = g["scores"][i][mode] if mode != "hybrid" else g["scores"][i]["hybrid"][0]
        assert abs(s - want) < 1e-4, (mode, i, s, want)
w = g["hybrid_weights"][1]
st, r = call("POST", "/v1/score/m3", dict(sbody, options={"score_mode": "hybrid", "score_weights": w}))
assert st == 200, r
for x in r["scores"]:
    i = int(x["item_id"].split("-")[1])
    assert abs(x["score"] - g["scores"][i]["hybrid"][1]) < 1e-4, (x, g["scores"][i])
st, r = call("POST", "/v1/rerank", {"model": "m3", "query": g["query"]["text"], "documents": docs,
                                    "options": {"score_mode": "colbert"}})
assert st == 200, r
for x in r["results"]:
    assert abs(x["relevance_score"] - g["scores"][x["index"]]["colbert"]) < 1e-4, x
# refusals
for opts, word in (({"score_mode": "bm25"}, "score_mode"), ({"score_mode": "hybrid", "score_weights": [1, 2]}, "score_weights"),
                   ({"score_mode": "hybrid", "score_weights": [0, 0, 0]}, "score_weights"),
                   ({"score_weights": [1, 1, 1]}, "score_weights"), ("x", "options")):
    st, r = call("POST", "/v1/score/m3", dict(sbody, options=opts))
    assert st == 400 and word in r["error"]["message"], (opts, st, r)
st, r = call("POST", "/v1/score/ce", dict(sbody, options={"score_mode": "sparse"}))
assert st == 400 and "score_mode" in r["error"]["message"], (st, r)
st, r = call("POST", "/v1/encode/bert", {"items": [{"text": "x"}], "params": {"output_types": ["dense", "sparse"]}})
assert st == 400 and "sparse" in r["error"]["message"], (st, r)
print("ok: bge-m3 over HTTP (three outputs in one call, four score modes, refusals)")
PY
echo "PASS bge_m3"
