#!/usr/bin/env bash
# Cross-encoders through a real server: POST /v1/score/{model} (sorted scores with ranks, equal
# to the reference goldens of tests/golden/*-ce-tiny.json), POST /v1/rerank in the Cohere/Jina
# shape (top_n, return_documents, indices into the input, usage), batching of concurrent
# requests, the model list's tasks, and clear 4xx answers: scoring with an embedding model,
# encoding with a cross-encoder, bad bodies. The server keeps serving after each.
. "$(dirname "$0")/lib/common.sh"
sy_start score --no-builtin-models --model ce=tests/fixtures/bert-ce-tiny \
	--model org/xlmr-ce=tests/fixtures/xlmr-ce-tiny --model bert=tests/fixtures/bert-tiny \
	--max-items 64
url=$URL
python3 - "$url" <<'PY' || fail "score checks"
import http.client, json, sys, threading, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
n = 0

def req(method, path, body=None):
    global n
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read() or b"null")
    c.close()
    n += 1
    return r.status, out

def sie_checks():
    # SIE's score body: query.id echoed as query_id, default item ids, SIE's timing; options
    # other than score_mode/score_weights/profile refused by name.
    st, r = req("POST", "/v1/score/ce", {"query": {"id": "q7", "text": "what"},
                                          "items": [{"text": "a"}, {"id": "x", "text": "b"}],
                                          "options": {"profile": "default"}})
    assert st == 200 and r["query_id"] == "q7", r
    assert sorted(s["item_id"] for s in r["scores"]) == ["item-0", "x"], r
    assert set(r["timing"]) >= {"total_ms", "queue_ms", "tokenization_ms", "inference_ms"}, r
    st, e = req("POST", "/v1/score/ce", {"query": {"text": "q"}, "items": [{"text": "a"}],
                                          "options": {"max_seq_length": 4}})
    assert st == 400 and "options.max_seq_length" in e["error"]["message"], e

def ok():
    st, body = req("GET", "/healthz")
    assert st == 200
    assert body["isa"] in ("avx512", "avx2", "portable"), body  # the kernel path (src/tensor/isa.c)

for model, name in (("ce", "bert-ce-tiny"), ("org/xlmr-ce", "xlmr-ce-tiny")):
    g = json.load(open(f"tests/golden/{name}.json"))
    by_query = {}
    for i, p in enumerate(g["pairs"]):
        by_query.setdefault(p["query"], []).append(p)
    for q, ps in by_query.items():
        items = [{"id": f"d{j}", "text": p["document"]} for j, p in enumerate(ps)]
        st, r = req("POST", f"/v1/score/{model}", {"query": {"text": q}, "items": items})
        assert st == 200, (st, r)
        assert r["model"] == model and "query_id" not in r
        got = {s["item_id"]: s for s in r["scores"]}
        assert [s["rank"] for s in r["scores"]] == list(range(len(ps)))
        assert all(r["scores"][k]["score"] >= r["scores"][k + 1]["score"] for k in range(len(ps) - 1))
        for j, p in enumerate(ps):
            assert abs(got[f"d{j}"]["score"] - p["score"]) < 1e-5, (model, got[f"d{j}"], p["score"])
        # The same through /v1/rerank (Cohere shape, documents as strings and objects).
        docs = [p["document"] if j % 2 else {"text": p["document"]} for j, p in enumerate(ps)]
        st, rr = req("POST", "/v1/rerank", {"model": model, "query": q, "documents": docs,
                                             "top_n": 1, "return_documents": True})
        assert st == 200, (st, rr)
        assert len(rr["results"]) == 1 and rr["usage"]["total_tokens"] > 0
        best = r["scores"][0]
        top = rr["results"][0]
        assert top["index"] == int(best["item_id"][1:]) and abs(top["relevance_score"] - best["score"]) < 1e-7
        assert top["document"]["text"] == ps[top["index"]]["document"]
    ok()

# Default ids, all results without documents, top_n beyond the count.
st, r = req("POST", "/v1/score/ce", {"query": "plain string query", "items": [{"text": "a"}, {"text": "b"}]})
assert st == 200 and sorted(s["item_id"] for s in r["scores"]) == ["item-0", "item-1"], r
st, rr = req("POST", "/v1/rerank", {"model": "ce", "query": "q", "documents": ["a", "b", "c"], "top_n": 10})
assert st == 200 and sorted(x["index"] for x in rr["results"]) == [0, 1, 2] and "document" not in rr["results"][0]

# Concurrent requests are batched together and each gets its own answer.
res = {}
def one(k):
    res[k] = req("POST", "/v1/score/ce", {"query": f"query {k}", "items": [{"text": f"doc {k} {j}"} for j in range(5)]})
ths = [threading.Thread(target=one, args=(k,)) for k in range(8)]
[t.start() for t in ths]; [t.join() for t in ths]
for k in range(8):
    st, r = res[k]
    assert st == 200 and len(r["scores"]) == 5
    st2, r2 = req("POST", "/v1/score/ce", {"query": f"query {k}", "items": [{"text": f"doc {k} {j}"} for j in range(5)]})
    assert [(s["item_id"], round(s["score"], 6)) for s in r["scores"]] == [(s["item_id"], round(s["score"], 6)) for s in r2["scores"]]

# Tasks in the model list.
st, m = req("GET", "/v1/models/ce")
assert st == 200 and m["tasks"] == ["score", "rerank"] and m["arch"] == "cross-encoder", m
st, m = req("GET", "/v1/models/bert")
assert m["tasks"] == ["encode"]

# Errors: 400 naming the problem, then still serving.
bad = [
    ("/v1/score/bert", {"query": "q", "items": [{"text": "d"}]}, 400, "does not support score"),
    ("/v1/encode/ce", {"items": [{"text": "d"}]}, 400, "is a cross-encoder"),
    ("/v1/rerank", {"model": "bert", "query": "q", "documents": ["d"]}, 400, "does not support score"),
    ("/v1/score/ce", {"items": [{"text": "d"}]}, 400, "query: required"),
    ("/v1/score/ce", {"query": 5, "items": [{"text": "d"}]}, 400, "query: expected"),
    ("/v1/score/ce", {"query": {"txt": "q"}, "items": [{"text": "d"}]}, 400, "query.text: required"),
    ("/v1/score/ce", {"query": "q", "items": []}, 400, "items: must not be empty"),
    ("/v1/score/ce", {"query": "q", "items": ["d"]}, 400, "items[0]: expected object"),
    ("/v1/score/ce", {"query": "q", "items": [{"text": "d"}] * 65}, 413, "exceed the limit"),
    ("/v1/score/nope", {"query": "q", "items": [{"text": "d"}]}, 404, "nope"),
    ("/v1/rerank", {"query": "q", "documents": ["d"]}, 400, "model: required"),
    ("/v1/rerank", {"model": "ce", "query": {"text": "q"}, "documents": ["d"]}, 400, "query: expected string"),
    ("/v1/rerank", {"model": "ce", "query": "q", "documents": [5]}, 400, "documents[0]: expected string or object"),
    ("/v1/rerank", {"model": "ce", "query": "q", "documents": ["d"], "top_n": 0}, 400, "top_n"),
    ("/v1/rerank", {"model": "ce", "query": "q", "documents": ["d"], "top_n": 1e300}, 400, "top_n"),
    ("/v1/rerank", {"model": "ce", "query": "q", "documents": ["d"], "return_documents": "yes"}, 400, "return_documents"),
    ("/v1/rerank", b'{"model":"ce","query":"q\xff","documents":["d"]}', 400, "invalid UTF-8"),
    ("/v1/rerank", {"model": "nope", "query": "q", "documents": ["d"]}, 404, "nope"),
]
for path, body, status, frag in bad:
    st, r = req("POST", path, body)
    assert st == status and frag in r["error"]["message"], (path, body, st, r)
    ok()
sie_checks()
print(f"ok: score and rerank, {n} requests")
PY
