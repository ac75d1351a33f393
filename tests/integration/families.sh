#!/usr/bin/env bash
# The model families beyond BERT over HTTP, against their goldens (tools/reference/make_*.py):
# NomicBERT with its search_query / search_document prefixes, and a NewModel laid out as stella_en_400M_v5 ships (mean pooling, 2_Dense_64 from
# pytorch_model.bin, s2p_query/s2s_query prompts) answers /v1/encode as the reference computes
# it, picks the s2p_query prompt for queries and a prompt named by the instruction, lists its
# dimensions in /v1/models, and a config file's dense_dims picks another 2_Dense_N head.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

cat >"$tmp/models.yaml" <<'YAML'
models:
  - id: stella16
    path: tests/fixtures/new-tiny
    dense_dims: 16
YAML
sy_start families --no-builtin-models --model stella=tests/fixtures/new-tiny \
	--model gte-bf16=tests/fixtures/new-bf16-tiny --model nomic=tests/fixtures/nomic-tiny \
	--model qwen3=tests/fixtures/qwen3-emb-tiny --model qwen3-rr=tests/fixtures/qwen3-rerank-tiny \
	--model mxbai-rr=tests/fixtures/mxbai-rerank-v2-tiny \
	--model gemma=tests/fixtures/embeddinggemma-tiny --model modernbert=tests/fixtures/modernbert-tiny \
	--model mpnet=tests/fixtures/mpnet-tiny --model jina=tests/fixtures/jina-bert-tiny \
	--config "$tmp/models.yaml"
python3 - "$URL" <<'PY' || fail "families over HTTP"
import http.client, json, math, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
g = json.load(open("tests/golden/new-tiny.json"))
def call(method, path, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
def encode(model, params=None):
    body = {"items": [{"text": t} for t in g["texts"]]}
    if params:
        body["params"] = params
    st, r = call("POST", f"/v1/encode/{model}", body)
    assert st == 200, (model, st, r)
    return [it["dense"]["values"] for it in r["items"]]
def check(model, key, golden_model, params=None):
    got = encode(model, params)
    want = g["models"][golden_model][key]
    worst = min(cos(a, b) for a, b in zip(got, want))
    assert worst >= 0.99999 and all(len(a) == len(b) for a, b in zip(got, want)), (model, key, worst)
    return worst
print("stella embeddings: min cosine %.7f" % check("stella", "embeddings", "new-tiny"))
print("stella queries (s2p_query): %.7f" % check("stella", "s2p_embeddings", "new-tiny", {"is_query": True}))
print("bf16 CLS + Normalize: %.7f" % check("gte-bf16", "embeddings", "new-bf16-tiny"))
print("dense_dims 16 from the config file: %.7f" % check("stella16", "embeddings_dense16", "new-tiny"))
# an instruction naming a prompt is that prompt
a = encode("stella", {"instruction": "s2s_query"})
b = encode("stella", {"instruction": g["prompts"]["s2s_query"]})
assert a == b, "instruction s2s_query differs from its text"
st, r = call("GET", "/v1/models/stella")
assert st == 200 and r["dims"] == {"dense": 64} and r["arch"] == "new" and r["max_tokens"] == 128, r
st, r = call("GET", "/v1/models/stella16")
assert st == 200 and r["dims"] == {"dense": 16}, r
print("ok: NewModel (stella layout) over HTTP")
gn = json.load(open("tests/golden/nomic-tiny.json"))["models"]["nomic-tiny"]
for params, key in ((None, "search_document"), ({"is_query": True}, "search_query"),
                    ({"instruction": ""}, "embeddings")):
    got = encode("nomic", params)
    worst = min(cos(a, b) for a, b in zip(got, gn[key]))
    assert worst >= 0.99999, ("nomic", key, worst)
st, r = call("GET", "/v1/models/nomic")
assert st == 200 and r["arch"] == "nomic_bert" and r["dims"] == {"dense": 32}, r
print("ok: NomicBERT over HTTP (search_document / search_query prefixes)")
gq = json.load(open("tests/golden/qwen3-emb-tiny.json"))["models"]["qwen3-emb-tiny"]
for params, key in ((None, "embeddings"), ({"is_query": True}, "query_embeddings")):
    got = encode("qwen3", params)
    worst = min(cos(a, b) for a, b in zip(got, gq[key]))
    assert worst >= 0.99999, ("qwen3", key, worst)
st, r = call("POST", "/v1/embeddings", {"model": "qwen3", "input": g["texts"]})
assert st == 200, (st, r)
worst = min(cos(d["embedding"], b) for d, b in zip(r["data"], gq["embeddings"]))
assert worst >= 0.99999, ("qwen3 /v1/embeddings", worst)
print("ok: Qwen3-Embedding over HTTP (/v1/encode with and without is_query, /v1/embeddings)")
gr = json.load(open("tests/golden/qwen3-rerank-tiny.json"))
q = gr["pairs"][0]["query"]
docs = [p["document"] for p in gr["pairs"][:3]]  # the same query for the first two; the third
st, r = call("POST", "/v1/rerank", {"model": "qwen3-rr", "query": q, "documents": docs[:2]})
assert st == 200, (st, r)
by_index = {x["index"]: x["relevance_score"] for x in r["results"]}
assert all(abs(by_index[i] - gr["scores"][i]) < 1e-4 for i in range(2)), (by_index, gr["scores"])
p3 = gr["pairs"][3]
st, r = call("POST", "/v1/score/qwen3-rr", {"query": {"text": p3["query"]}, "items": [{"text": p3["document"]}],
                                            "instruction": p3["instruction"]})
assert st == 200 and abs(r["scores"][0]["score"] - gr["scores"][3]) < 1e-4, (st, r)
print("ok: Qwen3-Reranker over HTTP (/v1/rerank, /v1/score with an instruction)")
gm = json.load(open("tests/golden/mxbai-rerank-v2-tiny.json"))
q = gm["pairs"][0]["query"]
docs = [p["document"] for p in gm["pairs"][:2]]  # the same query for the first two
st, r = call("POST", "/v2/rerank", {"model": "mxbai-rr", "query": q, "documents": docs})
assert st == 200, (st, r)
by_index = {x["index"]: x["relevance_score"] for x in r["results"]}
assert all(abs(by_index[i] - gm["scores"][i]) < 1e-4 for i in range(2)), (by_index, gm["scores"])
for i in (2, 3, 4):  # a cut document; an instruction; a query past 3/4 of max_length
    p = gm["pairs"][i]
    body = {"query": {"text": p["query"]}, "items": [{"text": p["document"]}]}
    if p["instruction"]:
        body["instruction"] = p["instruction"]
    st, r = call("POST", "/v1/score/mxbai-rr", body)
    assert st == 200 and abs(r["scores"][0]["score"] - gm["scores"][i]) < 1e-4, (i, st, r)
print("ok: mxbai-rerank-v2 over HTTP (/v2/rerank, /v1/score: cut document, instruction, cut query)")
ge = json.load(open("tests/golden/embeddinggemma-tiny.json"))["models"]["embeddinggemma-tiny"]
for params, key in ((None, "document_embeddings"), ({"is_query": True}, "query_embeddings")):
    worst = min(cos(a, b) for a, b in zip(encode("gemma", params), ge[key]))
    assert worst >= 0.99999, ("gemma", key, worst)
print("ok: EmbeddingGemma over HTTP (document and query prompts)")
# ModernBERT, MPNet and JinaBERT v2 through /v1/embeddings, against their goldens.
for model, path, item_key, emb_key in (("modernbert", "modernbert-tiny", "items", "sentence_embedding"),
                                       ("mpnet", "mpnet-tiny", "texts", "embedding"),
                                       ("jina", "jina-bert-tiny", "texts", "embedding")):
    gg = json.load(open(f"tests/golden/{path}.json"))[item_key]
    st, r = call("POST", "/v1/embeddings", {"model": model, "input": [t["text"] for t in gg]})
    assert st == 200, (model, st, r)
    worst = min(cos(d["embedding"], t[emb_key]) for d, t in zip(r["data"], gg))
    assert worst >= 0.99999, (model, worst)
    st, r = call("GET", f"/v1/models/{model}")
    assert st == 200 and r["max_tokens"] > 0 and r["outputs"] == ["dense"], (model, r)
print("ok: ModernBERT, MPNet and JinaBERT v2 over HTTP")
# Matryoshka dimensions, computed here from the goldens: nomic-embed-text-v1.5's recipe (layer
# norm without affine, eps 1e-5, the first N, L2) and Qwen3-Embedding's (the first N, L2).
def l2(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]
def layer_norm(v, eps=1e-5):
    mu = sum(v) / len(v)
    var = sum((x - mu) ** 2 for x in v) / len(v)
    return [(x - mu) / math.sqrt(var + eps) for x in v]
for model, golden_rows, recipe in (("nomic", gn["search_document"], lambda v: l2(layer_norm(v)[:16])),
                                   ("qwen3", gq["embeddings"], lambda v: l2(v[:16]))):
    got = encode(model, {"dimensions": 16})
    assert all(len(a) == 16 for a in got), model
    worst = min(cos(a, recipe(b)) for a, b in zip(got, golden_rows))
    assert worst >= 0.99999 and all(abs(math.sqrt(sum(x * x for x in a)) - 1) < 1e-5 for a in got), (model, worst)
st, r = call("POST", "/v1/embeddings", {"model": "qwen3", "input": g["texts"][:2], "dimensions": 16})
assert st == 200 and len(r["data"][0]["embedding"]) == 16, (st, r)
assert encode("qwen3", {"options": {"dimensions": 16}}) == encode("qwen3", {"dimensions": 16})  # SIE's spelling
for model, why in (("stella", "not trained"), ("gte-bf16", "not trained")):
    st, r = call("POST", f"/v1/encode/{model}", {"items": [{"text": "x"}], "params": {"dimensions": 8}})
    assert st == 400 and why in r["error"]["message"], (model, st, r)
st, r = call("POST", "/v1/encode/qwen3", {"items": [{"text": "x"}], "params": {"dimensions": 65}})
assert st == 400 and "dimensions" in r["error"]["message"], (st, r)
print("ok: Matryoshka dimensions (nomic's and Qwen3's recipes; refused for models not trained for it)")
PY

# The same through the CLI: a query gets s2p_query, --dense-dims picks 2_Dense_16.
python3 - "$SY" <<'PY' || fail "families through the CLI"
import json, math, subprocess, sys
g = json.load(open("tests/golden/new-tiny.json"))
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
def cli(*args):
    out = subprocess.run([sys.argv[1], "encode", "--model", "tests/fixtures/new-tiny", *args, *g["texts"]],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return [json.loads(l)["dense"] for l in out.splitlines()]
for args, key in (((), "embeddings"), (("--query",), "s2p_embeddings"),
                  (("--dense-dims", "16"), "embeddings_dense16")):
    got, want = cli(*args), g["models"]["new-tiny"][key]
    worst = min(cos(a, b) for a, b in zip(got, want))
    assert worst >= 0.99999, (args, worst)
print("ok: NewModel through the CLI")
# The other families through the CLI, against their goldens (documents: nomic's prefix applies).
def cli_dir(d, texts, *args):
    out = subprocess.run([sys.argv[1], "encode", "--model", d, *args, *texts],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return [json.loads(l)["dense"] for l in out.splitlines()]
checks = []
gn = json.load(open("tests/golden/nomic-tiny.json"))
checks.append(("tests/fixtures/nomic-tiny", gn["texts"], gn["models"]["nomic-tiny"]["search_document"]))
for name, key, emb in (("mpnet-tiny", "texts", "embedding"), ("jina-bert-tiny", "texts", "embedding"),
                       ("modernbert-tiny", "items", "sentence_embedding")):
    gg = json.load(open(f"tests/golden/{name}.json"))[key]
    checks.append((f"tests/fixtures/{name}", [t["text"] for t in gg], [t[emb] for t in gg]))
gq = json.load(open("tests/golden/qwen3-emb-tiny.json"))
checks.append(("tests/fixtures/qwen3-emb-tiny", gq["texts"], gq["models"]["qwen3-emb-tiny"]["embeddings"]))
gg = json.load(open("tests/golden/embeddinggemma-tiny.json"))
checks.append(("tests/fixtures/embeddinggemma-tiny", gg["texts"], gg["models"]["embeddinggemma-tiny"]["document_embeddings"]))
for d, texts, want in checks:
    worst = min(cos(a, b) for a, b in zip(cli_dir(d, texts), want))
    assert worst >= 0.99999, (d, worst)
print("ok: NomicBERT, MPNet, JinaBERT v2, ModernBERT, Qwen3-Embedding and EmbeddingGemma through the CLI")
# The LLM rerankers through `switchyard score`, with and without an instruction.
for name in ("qwen3-rerank-tiny", "mxbai-rerank-v2-tiny"):
    gr = json.load(open(f"tests/golden/{name}.json"))
    for i, p in enumerate(gr["pairs"]):
        args = [sys.argv[1], "score", "--model", f"tests/fixtures/{name}", "--query", p["query"]]
        if p["instruction"]:
            args += ["--instruction", p["instruction"]]
        out = subprocess.run(args + [p["document"]], check=True, capture_output=True, text=True,
                             timeout=120).stdout
        got = json.loads(out)["score"]
        assert abs(got - gr["scores"][i]) < 1e-4, (name, i, got, gr["scores"][i])
print("ok: Qwen3-Reranker and mxbai-rerank-v2 through the CLI (score --instruction)")
PY
echo "ok: families"
