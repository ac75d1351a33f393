#!/usr/bin/env bash
# int8 asked of a model that has no int8 path (GLiNER: its DeBERTa-v2 encoder runs fp32 only).
# As every model's default (`serve --quantize int8`) the model loads in fp32, says so in
# /v1/models and the log, and gives the fp32 entities, while a BERT model beside it runs int8;
# asked for that model by name (`quantize: int8` in its models: entry) its load is refused with
# a message naming the key, and the server goes on serving.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_start dflt --no-builtin-models --quantize int8 --model gliner=tests/fixtures/gliner-tiny \
	--model ner=tests/fixtures/ner-tiny
cat >"$tmp/config.yaml" <<YAML
models:
  - {id: gliner, path: tests/fixtures/gliner-tiny, quantize: int8}
  - {id: gliner32, path: tests/fixtures/gliner-tiny, quantize: none}
YAML
URL_DEFAULT=$URL
sy_start named --no-builtin-models --config "$tmp/config.yaml"
python3 - "$URL_DEFAULT" "$URL" <<'PY' || fail "int8 on a model without an int8 path"
import http.client, json, sys, urllib.parse

def req(base, method, path, body=None):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read())
    c.close()
    return r.status, out

gl = json.load(open("tests/golden/gliner-tiny.json"))
want = gl["texts"][0]
body = {"items": [{"text": want["text"]}], "params": {"labels": want["labels"], "threshold": gl["threshold"]}}

# The engine-wide default: fp32 for GLiNER (the golden's entities), int8 for the BERT model.
st, r = req(sys.argv[1], "POST", "/v1/extract/gliner", body)
assert st == 200, (st, r)
got = r["items"][0]["entities"]
assert [(e["label"], e["start"], e["end"]) for e in got] == \
       [(e["label"], e["start"], e["end"]) for e in want["entities"]], (got, want["entities"])
assert all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(got, want["entities"]))
st, m = req(sys.argv[1], "GET", "/v1/models/gliner")
assert st == 200 and m["precision"] == "fp32", m
st, r = req(sys.argv[1], "POST", "/v1/extract/ner", {"items": [{"text": "Alice lives in Paris."}]})
assert st == 200, (st, r)
st, m = req(sys.argv[1], "GET", "/v1/models/ner")
assert st == 200 and m["precision"] == "int8", m

# Asked by name: refused at load, naming the key; the same weights with quantize: none serve.
st, r = req(sys.argv[2], "POST", "/v1/extract/gliner", body)
assert st == 502, (st, r)
msg = json.dumps(r)
assert "quantize: int8" in msg and "no int8 path" in msg, r
st, r = req(sys.argv[2], "POST", "/v1/extract/gliner32", body)
assert st == 200 and len(r["items"][0]["entities"]) == len(want["entities"]), (st, r)
st, h = req(sys.argv[2], "GET", "/healthz")
assert st == 200, (st, h)
print("  GLiNER under int8: fp32 as the default (entities as the golden), refused by name (502)")
PY
grep -q "gliner: a gliner model has no int8 path; it runs in fp32" "$tmp/dflt.err" ||
	fail "no log line for the fp32 fallback: $(cat "$tmp/dflt.err")"
echo "quantize fp32-only tests ok"
