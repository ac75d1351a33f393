#!/usr/bin/env bash
# Integration test of the Hugging Face Text Embeddings Inference routes (issue 19 item 6), the
# Switchyard /v1/tokenize route and the OpenAPI document (item 7), on the real server with the
# committed fixtures: each TEI route's happy path and answer shape, TEI's bad-input statuses and
# error shape with the server still serving, /v1/tokenize offsets on non-ASCII text, the choice
# of model (--tei-model, "model" in the body, the only model), /openapi.json against the routes
# the server answers, and /docs. Every server is bounded by `timeout` and stopped on exit.
source "$(dirname "$0")/lib/common.sh"
FX=tests/fixtures
PY=python3

# post PATH BODY: prints "STATUS BODY" of a POST to the current server.
post() { curl -s -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	--max-time 30 -d "$2" "$URL$1"; echo " $(cat "$tmp/body")"; }
get() { curl -s -o "$tmp/body" -w '%{http_code}' --max-time 30 "$URL$1"; echo " $(cat "$tmp/body")"; }
# expect STATUS OUTPUT: the status of `post`/`get` output.
expect() {
	[ "${2%% *}" = "$1" ] || fail "want $1, got: $2"
}
# check OUTPUT PYTHON: runs PYTHON with `r` the parsed JSON body of OUTPUT.
check() {
	printf '%s' "${1#* }" | $PY -c "import json,sys; r=json.load(sys.stdin); $2" ||
		fail "check failed on: $1"
}

# 1. One embedding model, a cross-encoder and a SPLADE model; TEI routes pick --tei-model.
sy_start main --no-builtin-models --model "bert=$FX/bert-tiny" --model "ce=$FX/bert-ce-tiny" \
	--model "splade=$FX/splade-tiny" --tei-model bert --max-items 8

out=$(post /embed '{"inputs":"hello world"}')
expect 200 "$out"
check "$out" 'assert len(r)==1 and len(r[0])==64; n=sum(x*x for x in r[0]); assert abs(n-1)<1e-4, n'
out=$(post /embed '{"inputs":["hello world","Café déjà vu"],"normalize":false}')
expect 200 "$out"
check "$out" 'assert len(r)==2 and all(len(v)==64 for v in r); assert abs(sum(x*x for x in r[0])-1)>1e-3'
# The same vector as /v1/encode gives (normalised).
enc=$(post /v1/encode/bert '{"items":[{"text":"hello world"}],"params":{"normalize":true}}')
tei=$(post /embed '{"inputs":["hello world"]}')
$PY - "${enc#* }" "${tei#* }" <<'PYEOF' || fail "/embed differs from /v1/encode"
import json, sys
a = json.loads(sys.argv[1])["items"][0]["dense"]["values"]; b = json.loads(sys.argv[2])[0]
assert max(abs(x - y) for x, y in zip(a, b)) < 1e-6
PYEOF
# prompt_name: a known prompt is applied, an unknown one is TEI's 413 Validation.
out=$(post /embed '{"inputs":"x","prompt_name":"no-such-prompt"}')
expect 413 "$out"
check "$out" 'assert r["error_type"]=="Validation" and "no-such-prompt" in r["error"]'

# "model" in the body overrides --tei-model.
out=$(post /embed_sparse '{"inputs":["what is a switchyard?"],"model":"splade"}')
expect 200 "$out"
check "$out" 'assert len(r)==1 and r[0] and all(set(t)=={"index","value"} and t["value"]>0 for t in r[0]); i=[t["index"] for t in r[0]]; assert i==sorted(i)'
out=$(post /rerank '{"model":"ce","query":"what is a switchyard?","texts":["bananas","a railway yard","trains"],"return_text":true}')
expect 200 "$out"
check "$out" 's=[x["score"] for x in r]; assert s==sorted(s,reverse=True) and sorted(x["index"] for x in r)==[0,1,2]; assert all("text" in x for x in r) and all(0<=v<=1 for v in s)'
raw=$(post /rerank '{"model":"ce","query":"what is a switchyard?","texts":["bananas"],"raw_scores":true}')
prob=$(post /rerank '{"model":"ce","query":"what is a switchyard?","texts":["bananas"]}')
$PY - "${raw#* }" "${prob#* }" <<'PYEOF' || fail "raw_scores is not the logit of the score"
import json, math, sys
z = json.loads(sys.argv[1])[0]["score"]; p = json.loads(sys.argv[2])[0]["score"]
assert abs(1 / (1 + math.exp(-z)) - p) < 1e-5 and "text" not in json.loads(sys.argv[2])[0]
PYEOF
# An embedding model cannot rerank: TEI's 424 Backend.
out=$(post /rerank '{"query":"q","texts":["a"]}')
expect 424 "$out"
check "$out" 'assert r["error_type"]=="Backend"'

# /tokenize: byte offsets as TEI, special tokens without offsets.
out=$(post /tokenize '{"inputs":"Café déjà vu"}')
expect 200 "$out"
check "$out" '
t=r[0]; s="Café déjà vu".encode()
assert t[0]["special"] and t[0]["start"] is None and t[0]["text"]=="[CLS]" and t[-1]["text"]=="[SEP]"
for x in t[1:-1]:
    assert not x["special"] and s[x["start"]:x["stop"]].decode()==x["text"], x
assert [x["text"] for x in t[1:-1]]==["Café","dé","jà","vu"]'
out=$(post /tokenize '{"inputs":["a","b c"],"add_special_tokens":false}')
expect 200 "$out"
check "$out" 'assert [len(t) for t in r]==[1,2] and not any(x["special"] for t in r for x in t)'
# /decode: one list or a batch; special tokens skipped by default.
ids=$(printf '%s' "${out#* }" | $PY -c 'import json,sys; print(json.dumps([x["id"] for x in json.load(sys.stdin)[1]]))')
out=$(post /decode "{\"ids\":$ids}")
expect 200 "$out"
check "$out" 'assert r==["b c"], r'
out=$(post /decode '{"ids":[[101,7592,102],[7592]],"skip_special_tokens":false}')
expect 200 "$out"
check "$out" 'assert r==["[CLS] hello [SEP]","hello"], r'
out=$(post /decode '{"ids":[1073741824]}')
expect 422 "$out"
check "$out" 'assert r["error_type"]=="Tokenizer"'

# /v1/tokenize: ids, pieces and code-point offsets on non-ASCII text.
out=$(post /v1/tokenize '{"model":"bert","input":["Café déjà vu","日本 ok"]}')
expect 200 "$out"
check "$out" '
a,b=r["items"]; s="Café déjà vu"
assert r["model"]=="bert" and a["tokens"][0]=="[CLS]" and a["special"][0] and a["offsets"][0]==[0,0]
assert [s[o[0]:o[1]] for o,sp in zip(a["offsets"],a["special"]) if not sp]==["Café","dé","jà","vu"]
assert len(a["ids"])==len(a["tokens"])==len(a["offsets"])
t="日本 ok"; assert [t[o[0]:o[1]] for o,sp in zip(b["offsets"],b["special"]) if not sp][-1]=="ok"
assert r["usage"]["total_tokens"]==len(a["ids"])+len(b["ids"])'
out=$(post /v1/tokenize '{"model":"bert","input":"hello","add_special_tokens":false}')
expect 200 "$out"
check "$out" 'assert r["items"][0]["tokens"]==["hello"]'
out=$(post /v1/tokenize '{"model":"nope","input":"x"}')
expect 404 "$out"
check "$out" 'assert r["error"]["code"]=="MODEL_NOT_FOUND"'

# /info and /health.
out=$(get /info)
expect 200 "$out"
check "$out" 'assert r["model_id"]=="bert" and r["model_type"]=={"embedding":{"pooling":"model"}} and r["max_input_length"]>0 and r["max_client_batch_size"]==8 and r["version"]'
out=$(get /health)
expect 200 "$out"

# 2. Bad input: TEI statuses and shape, and the server keeps serving.
expect 400 "$(post /embed '{"inputs":[]}')"
check "$(post /embed '{"inputs":[]}')" 'assert r=={"error":"`inputs` cannot be empty","error_type":"Empty"}'
expect 400 "$(post /embed '{"inputs":')"
expect 422 "$(post /embed '{"inputs":7}')"
expect 422 "$(post /embed '{"texts":["a"]}')"
expect 422 "$(post /embed '{"inputs":"a","normalize":"yes"}')"
expect 422 "$(post /embed '{"inputs":[[1,2,3]]}')"
out=$(post /embed '{"inputs":["1","2","3","4","5","6","7","8","9"]}')
expect 413 "$out"
check "$out" 'assert r["error_type"]=="Validation" and "batch size 9" in r["error"]'
long=$($PY -c 'print(" ".join(["word"]*300))')
out=$(post /embed "{\"inputs\":\"$long\"}")
expect 413 "$out"
check "$out" 'assert r["error_type"]=="Validation"'
expect 200 "$(post /embed "{\"inputs\":\"$long\",\"truncate\":true}")"
expect 422 "$(post /rerank '{"model":"ce","texts":["a"]}')"
expect 400 "$(post /rerank '{"model":"ce","query":"q","texts":[]}')"
expect 422 "$(post /decode '{"ids":["a"]}')"
expect 405 "$(get /embed)"
out=$(post /embed '{"inputs":"x","model":"nope"}')
expect 404 "$out"
check "$out" 'assert set(r)=={"error","error_type"}'
expect 200 "$(post /embed '{"inputs":"still serving"}')"

# 3. The OpenAPI document lists exactly the routes that answer, and /docs renders it offline.
out=$(get /openapi.json)
expect 200 "$out"
printf '%s' "${out#* }" >"$tmp/openapi.json"
$PY - "$tmp/openapi.json" "$URL" <<'PYEOF' || fail "/openapi.json does not match the routes"
import json, sys, urllib.request, urllib.error
doc = json.load(open(sys.argv[1])); url = sys.argv[2]
assert doc["openapi"].startswith("3.1")
n = 0
for path, item in doc["paths"].items():
    for method in item:
        n += 1
        p = path.replace("{model}", "bert").replace("{id}", "bert")
        req = urllib.request.Request(url + p, method="HEAD" if method == "get" else "PUT")
        try:
            urllib.request.urlopen(req, timeout=10)
            status = 200
        except urllib.error.HTTPError as e:
            status = e.code
        # A documented route exists: GET ones answer (HEAD), POST ones refuse another
        # method with 405 rather than 404 (no such route).
        if method == "post":
            assert status == 405, (path, status)
        else:
            assert status in (200, 503), (path, status)
assert n >= 28, n
PYEOF
out=$(get /docs)
expect 200 "$out"
case "$out" in *'fetch("/openapi.json")'*) ;; *) fail "/docs does not load /openapi.json" ;; esac
case "$out" in *'http://'* | *'https://'*) fail "/docs refers to an external asset" ;; esac

# 4. The only model is the TEI model without --tei-model; several without it answer 400.
sy_start only --no-builtin-models --model "ce=$FX/bert-ce-tiny"
out=$(post /rerank '{"query":"q","texts":["a","b"]}')
expect 200 "$out"
out=$(get /info)
check "$out" 'assert "reranker" in r["model_type"] and r["model_id"]=="ce"'
sy_start many --no-builtin-models --model "a=$FX/bert-tiny" --model "b=$FX/bert-tiny"
out=$(post /embed '{"inputs":"x"}')
expect 400 "$out"
check "$out" 'assert "--tei-model" in r["error"] and r["error_type"]=="Validation"'
expect 200 "$(post /embed '{"inputs":"x","model":"b"}')"
echo "tei: all checks passed"
