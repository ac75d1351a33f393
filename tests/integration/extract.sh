#!/usr/bin/env bash
# NER extraction and ColBERT multi-vectors through a real server, against the reference goldens
# (tests/golden/ner-tiny.json, colbert-tiny.json): /v1/extract entities with character offsets
# under each aggregation strategy, the threshold, batching of concurrent requests; /v1/encode
# multivector output; /v1/score and /v1/rerank by MaxSim; tasks, outputs and labels in
# /v1/models; and clear 400s for every combination a model does not support, the server still
# serving after each.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_start extract --no-builtin-models --model ner=tests/fixtures/ner-tiny \
	--model colbert=tests/fixtures/colbert-tiny --model bert=tests/fixtures/bert-tiny \
	--model ce=tests/fixtures/bert-ce-tiny --model sp=tests/fixtures/splade-tiny \
	--model gliner=tests/fixtures/gliner-tiny
python3 - "$URL" <<'PY' || fail "extract/multivector checks"
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

# ---- NER ----
g = json.load(open("tests/golden/ner-tiny.json"))["texts"]
texts = [t["text"] for t in g]
n_entities = 0
for strategy in ["simple", "first", "average", "max"]:
    st, r = req("POST", "/v1/extract/ner", {"items": [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)],
                                            "params": {"aggregation": strategy}})
    assert st == 200, (st, r)
    assert r["model"] == "ner" and "timing" in r
    for i, (item, want) in enumerate(zip(r["items"], g)):
        assert item["id"] == f"t{i}"
        got, ref = item["entities"], want["entities"][strategy]
        assert len(got) == len(ref), (strategy, i, got, ref)
        for e, w in zip(got, ref):
            assert (e["label"], e["start"], e["end"]) == (w["label"], w["start"], w["end"]), (e, w)
            assert abs(e["score"] - w["score"]) < 1e-5, (e, w)
            assert e["text"] == texts[i][w["start"]:w["end"]], (e, texts[i])
            n_entities += 1
assert n_entities > 100, n_entities
# Default strategy is "first"; a threshold keeps only confident entities.
st, r = req("POST", "/v1/extract/ner", {"items": [{"text": texts[0]}]})
assert [e["start"] for e in r["items"][0]["entities"]] == [e["start"] for e in g[0]["entities"]["first"]]
assert r["items"][0]["id"] == "item-0"
st, r = req("POST", "/v1/extract/ner", {"items": [{"text": texts[2]}], "params": {"threshold": 0.8}})
assert st == 200 and all(e["score"] >= 0.8 for e in r["items"][0]["entities"])
assert len(r["items"][0]["entities"]) == sum(1 for e in g[2]["entities"]["first"] if e["score"] >= 0.8)
# SIE's shape: options.threshold (over params.threshold), the other result lists present and
# empty, bbox on each entity; flat_ner false and unknown options are refused by name.
st, r2 = req("POST", "/v1/extract/ner", {"items": [{"text": texts[2]}],
                                          "params": {"threshold": 0.1, "options": {"threshold": 0.8, "flat_ner": True}}})
assert st == 200 and r2["items"][0]["entities"] == r["items"][0]["entities"], r2
it = r2["items"][0]
assert (it["relations"], it["classifications"], it["objects"], it["data"]) == ([], [], [], {}), it
assert all("bbox" in e for e in it["entities"])
for opt, frag in (({"flat_ner": False}, "params.options.flat_ner"), ({"multi_label": True}, "params.options.multi_label"),
                  ({"top_k": 3}, "params.options.top_k")):
    st, e = req("POST", "/v1/extract/ner", {"items": [{"text": "a"}], "params": {"options": opt}})
    assert st == 400 and frag in e["error"]["message"], (opt, st, e)
# Concurrent requests are batched and each gets its own answer.
res = {}
def one(k):
    res[k] = req("POST", "/v1/extract/ner", {"items": [{"text": texts[k % 6]}]})
ths = [threading.Thread(target=one, args=(k,)) for k in range(12)]
[t.start() for t in ths]; [t.join() for t in ths]
for k in range(12):
    assert res[k][0] == 200, res[k]
    assert [e["start"] for e in res[k][1]["items"][0]["entities"]] == [e["start"] for e in g[k % 6]["entities"]["first"]]
st, m = req("GET", "/v1/models/ner")
assert m["tasks"] == ["extract"] and m["outputs"] == ["entities"], m
assert m["labels"] == ["MISC", "PER", "ORG", "LOC"], m

# ---- GLiNER: labels per call, the seed's example among the texts ----
gl = json.load(open("tests/golden/gliner-tiny.json"))
for want in gl["texts"]:
    st, r = req("POST", "/v1/extract/gliner", {"items": [{"text": want["text"]}],
                                               "params": {"labels": want["labels"], "threshold": gl["threshold"]}})
    assert st == 200, (st, r)
    got = r["items"][0]["entities"]
    assert [(e["text"], e["label"], e["start"], e["end"]) for e in got] == \
           [(e["text"], e["label"], e["start"], e["end"]) for e in want["entities"]], (got, want["entities"])
    assert all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(got, want["entities"]))
st, r = req("POST", "/v1/extract/gliner", {"items": [{"text": "Tim Cook is the CEO of Apple."}],
                                           "params": {"labels": ["person", "organization"]}})
assert st == 200 and all(e["score"] > 0.5 for e in r["items"][0]["entities"]), r  # default threshold 0.5
st, m = req("GET", "/v1/models/gliner")
assert m["arch"] == "gliner" and m["tasks"] == ["extract"] and "labels" not in m, m

# ---- ColBERT ----
c = json.load(open("tests/golden/colbert-tiny.json"))
def close(a, b, tol=1e-5):
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < tol
st, r = req("POST", "/v1/encode/colbert", {"items": [{"text": d["text"]} for d in c["documents"]],
                                            "params": {"output_types": ["multivector"]}})
assert st == 200, (st, r)
for item, want in zip(r["items"], c["documents"]):
    mv = item["multivector"]
    assert mv["token_dims"] == c["dim"] and mv["num_tokens"] == len(want["vectors"]), mv.keys()
    assert len(mv["values"]) == mv["num_tokens"], "values is a list of token vectors"
    assert close([x for r in mv["values"] for x in r], [x for v in want["vectors"] for x in v])
st, r = req("POST", "/v1/encode/colbert", {"items": [{"text": q["text"]} for q in c["queries"]],
                                            "params": {"output_types": ["multivector"], "is_query": True}})
assert st == 200
for item, want in zip(r["items"], c["queries"]):
    assert item["multivector"]["num_tokens"] == c["query_maxlen"]
    assert close([x for r in item["multivector"]["values"] for x in r], [x for v in want["vectors"] for x in v])
docs = [d["text"] for d in c["documents"]]
for qi, q in enumerate(c["queries"]):
    st, r = req("POST", "/v1/score/colbert", {"query": {"text": q["text"]}, "items": [{"id": f"d{i}", "text": t} for i, t in enumerate(docs)]})
    assert st == 200, (st, r)
    got = {s["item_id"]: s["score"] for s in r["scores"]}
    for i in range(len(docs)):
        assert abs(got[f"d{i}"] - c["maxsim"][qi][i]) < 1e-4, (qi, i, got, c["maxsim"][qi])
    assert [s["rank"] for s in r["scores"]] == list(range(len(docs)))
    assert [s["score"] for s in r["scores"]] == sorted(got.values(), reverse=True)
st, r = req("POST", "/v1/rerank", {"model": "colbert", "query": c["queries"][0]["text"], "documents": docs, "top_n": 2})
assert st == 200 and len(r["results"]) == 2, r
best = max(range(len(docs)), key=lambda i: c["maxsim"][0][i])
assert r["results"][0]["index"] == best
st, m = req("GET", "/v1/models/colbert")
assert m["arch"] == "colbert" and m["outputs"] == ["multivector"] and "score" in m["tasks"], m

# ---- what each model does not do ----
for path, body, frag in [
    ("/v1/encode/colbert", {"items": [{"text": "x"}]}, "multi-vector (ColBERT) model"),
    ("/v1/encode/colbert", {"items": [{"text": "x"}], "params": {"output_types": ["sparse"]}}, "multi-vector (ColBERT) model"),
    ("/v1/encode/bert", {"items": [{"text": "x"}], "params": {"output_types": ["multivector"]}}, "does not support multivector"),
    ("/v1/encode/sp", {"items": [{"text": "x"}], "params": {"output_types": ["multivector"]}}, "sparse (SPLADE) model"),
    ("/v1/encode/ner", {"items": [{"text": "x"}]}, "use /v1/extract/ner"),
    ("/v1/score/ner", {"query": "q", "items": [{"text": "d"}]}, "extraction model"),
    ("/v1/extract/bert", {"items": [{"text": "x"}]}, "does not support extract"),
    ("/v1/extract/ce", {"items": [{"text": "x"}]}, "cross-encoder"),
    ("/v1/extract/colbert", {"items": [{"text": "x"}]}, "does not support extract"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"labels": ["person"]}}, "fixed labels"),
    ("/v1/extract/gliner", {"items": [{"text": "x"}]}, "params.labels"),
    ("/v1/encode/gliner", {"items": [{"text": "x"}]}, "use /v1/extract/gliner"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"labels": "person"}}, "params.labels"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"labels": []}}, "params.labels"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"labels": [3]}}, "params.labels[0]"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"threshold": 2}}, "params.threshold"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"aggregation": "mean"}}, "params.aggregation"),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"output_types": ["dense"]}}, "unknown parameter"),
    ("/v1/extract/ner", {"items": []}, "must not be empty"),
    ("/v1/extract/ner", {"items": [{"txt": "x"}]}, "items[0].text"),
    ("/v1/embeddings", {"model": "ner", "input": "x"}, "extract"),
    ("/v1/embeddings", {"model": "colbert", "input": "x"}, "multi-vector"),
]:
    st, r = req("POST", path, body)
    assert st == 400 and frag in r["error"]["message"], (path, body, st, r)
    st, _ = req("GET", "/healthz")
    assert st == 200
st, r = req("POST", "/v1/extract/nope", {"items": [{"text": "x"}]})
assert st == 404 and r["error"]["code"] == "MODEL_NOT_FOUND", r
print("ok: extract and multivector")
PY
