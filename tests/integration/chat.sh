#!/usr/bin/env bash
# The routing layer against a scripted OpenAI-compatible upstream on loopback
# (tests/integration/lib/mock_llm.py): every policy (static, rules, semantic with USE-lite,
# llm_classifier, cascade with a verifier), retries honouring Retry-After, fallback, the circuit
# breaker with a single candidate, budgets (refusal and downgrade, critical requests exempt),
# racing with the loser cancelled, time-to-first-token timeouts, malformed bodies, streams
# passed through and streams cut midway, the x-switchyard-* headers, the JSONL decision log,
# the Prometheus counters, the task table (with a weighted split), reload by admin route and
# SIGHUP, and bad chat bodies (400, server still serving).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
export SY_TEST_KEY=sk-test
# a learned router (labels = candidates) and a strong/weak one, trained by `switchyard router train`
python3 - "$tmp" <<'PY'
import sys
big = ["write a python function to sort a list", "debug this segfault in my C program",
       "prove that the square root of two is irrational", "derive the gradient of softmax",
       "optimise this SQL query with three joins", "explain the proof of the halting problem"]
small = ["hello there", "thanks a lot", "what time is it", "good morning", "how are you",
         "tell me a joke"]
with open(f"{sys.argv[1]}/learned.csv", "w") as f:
    f.write("text,label\n" + "".join(f'"{t}",big\n' for t in big) + "".join(f'"{t}",small\n' for t in small))
with open(f"{sys.argv[1]}/sw.csv", "w") as f:
    f.write("text,label\n" + "".join(f'"{t}",0\n' for t in big) + "".join(f'"{t}",1\n' for t in small))
PY
"$SY" router train --data "$tmp/learned.csv" --out "$tmp/learned.json" >"$tmp/train.out" 2>&1 || { cat "$tmp/train.out"; fail "router train"; }
"$SY" router train --strong-weak --strong-share 0.5 --data "$tmp/sw.csv" --out "$tmp/sw.json" >"$tmp/train2.out" 2>&1 || { cat "$tmp/train2.out"; fail "router train --strong-weak"; }
grep -q "training accuracy 1.0000" "$tmp/train.out" || { cat "$tmp/train.out"; fail "learned router does not fit its training data"; }
cat >"$tmp/config.yaml" <<YAML
models:
  - {id: bert, path: tests/fixtures/bert-tiny}
  - {id: roberta, path: tests/fixtures/roberta-tiny}
  - {id: ner, path: tests/fixtures/ner-tiny}
upstreams:
  small:   {base_url: "$MOCK", model: echo-small, price_input: 0.1, price_output: 0.2, api_key_env: SY_TEST_KEY}
  big:     {base_url: "$MOCK", model: echo-big, price_input: 10, price_output: 30}
  fail:    {base_url: "$MOCK", model: fail}
  fail2:   {base_url: "$MOCK", model: fail}
  badreq:  {base_url: "$MOCK", model: badreq}
  limited: {base_url: "$MOCK", model: ratelimit}
  slow:    {base_url: "$MOCK", model: slow, ttft_timeout_ms: 300}
  slowrace: {base_url: "$MOCK", model: slow}
  broken:  {base_url: "$MOCK", model: malformed}
  cut:     {base_url: "$MOCK", model: streamcut}
  jsonbot: {base_url: "$MOCK", model: json, price_input: 5, price_output: 5}
  unsure:  {base_url: "$MOCK", model: lowconf, price_input: 0.1, price_output: 0.1}
  labeler: {base_url: "$MOCK", model: labeler}
  pricey:  {base_url: "$MOCK", model: echo-pricey, price_input: 10000, price_output: 10000}
routes:
  plain: {policy: static, candidates: [small]}
  triage:
    policy: rules
    candidates: [small, big]
    default: small
    rules:
      - {if: {keywords: [refund, invoice]}, then: big}
      - {if: {regex: "(?i)python"}, then: big}
      - {if: {min_length: 400}, then: big}
      - {if: {metadata: {tier: premium}}, then: big}
      - {if: {tags: [vip]}, then: big}
      - {if: {min_messages: 5}, then: big}
  backtrack:
    policy: rules
    candidates: [small, big]
    rules:
      - {if: {regex: '^(\w+\s?)*$'}, then: big}
  backtrack_skip:
    policy: rules
    candidates: [small, big]
    rules:
      - {if: {regex: '^(\w+\s?)*$', on_limit: skip}, then: big}
  chain: {policy: static, candidates: [fail, broken, small]}
  refused: {policy: static, candidates: [badreq, small]}
  patient: {policy: static, candidates: [limited], retries: 1}
  fragile: {policy: static, candidates: [fail2], breaker: {failures: 2, cooldown_s: 60}}
  careful:
    policy: cascade
    candidates: [unsure, jsonbot]
    verifier: {min_confidence: 0.5}
  strict:
    policy: cascade
    candidates: [small, jsonbot]
    verifier: {json: true, schema: {type: object, required: [answer], properties: {answer: {type: integer}}}}
  racer: {policy: static, candidates: [slowrace, small], race: 2}
  hurry: {policy: static, candidates: [slow]}
  budgeted: {policy: static, candidates: [pricey], budget: {window: daily, limit_usd: 0.05}}
  perkey: {policy: static, candidates: [pricey], budget: {window: monthly, per_key_usd: 0.05}}
  thrifty:
    policy: static
    candidates: [big, small]
    budget: {window: daily, limit_usd: 1000, downgrade_at: 0.00000001}
  topics:
    policy: semantic
    candidates: [small, big]
    default: small
    semantic:
      encoder: use-lite
      threshold: 0.3
      examples:
        big: ["write a python function", "debug my program", "fix this code"]
        small: ["hello there", "how are you today", "good morning"]
  asked:
    policy: llm_classifier
    candidates: [small, big]
    default: small
    llm_classifier: {upstream: labeler, labels: {big: "hard questions", small: "everything else"}}
  cutoff: {policy: static, candidates: [cut]}
  learnt:
    policy: learned
    candidates: [small, big]
    learned: {model_file: learned.json}
  sw:
    policy: strong_weak
    candidates: [small, big]
    strong_weak: {model_file: sw.json, strong: big, weak: small}
tasks:
  retrieve: {operation: encode, model: bert}
  split: {operation: encode, model: bert, splits: [{model: roberta, weight: 0.5}]}
  shadowed: {operation: encode, model: bert, shadow: roberta}
router:
  decision_log: $tmp/decisions.jsonl
YAML
sy_start chat --config "$tmp/config.yaml"
python3 - "$URL" "$tmp" "$(cat "$tmp/mock.port")" <<'PY' || fail "chat routing checks"
import http.client, json, sys, time, urllib.parse
url, tmp, mport = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(url)

def chat(model, text="hello", stream=False, headers=None, extra=None, raw=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    body = raw if raw is not None else json.dumps(dict({"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}, **(extra or {})))
    c.request("POST", "/v1/chat/completions", body, dict({"Content-Type": "application/json"}, **(headers or {})))
    r = c.getresponse()
    data = r.read().decode()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, data, h

def ok(model, text="hello", **kw):
    st, data, h = chat(model, text, **kw)
    assert st == 200, (model, st, data)
    return json.loads(data), h

def stats():
    c = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
    c.request("GET", "/stats")
    return json.loads(c.getresponse().read())

# static, headers, cost, API key forwarded
a, h = ok("plain", "hi")
assert a["choices"][0]["message"]["content"] == "[echo-small] hi"
assert h["x-switchyard-route"] == "plain" and h["x-switchyard-model"] == "small", h
assert h["x-switchyard-attempts"] == "1" and float(h["x-switchyard-cost-usd"]) > 0, h
assert "static" in h["x-switchyard-reason"]
assert stats()["last_body"]["echo-small"]["model"] == "echo-small"
# a direct upstream name works as a one-candidate route
a, h = ok("big", "direct")
assert a["choices"][0]["message"]["content"] == "[echo-big] direct"

# rules: keyword, regex, length, metadata, tags, message count, default
for text, extra, want, why in [
    ("I want a refund", None, "big", "keyword"),
    ("write Python please", None, "big", "regex"),
    ("x" * 500, None, "big", "length"),
    ("hi", {"metadata": {"tier": "premium"}}, "big", "metadata"),
    ("hi", {"metadata": {"tags": ["vip", "x"]}}, "big", "tag"),
    ("hello", None, "small", "no rule matched"),
]:
    a, h = ok("triage", text, extra=extra)
    assert h["x-switchyard-model"] == want and why in h["x-switchyard-reason"], (text, h)
st, data, h = chat("triage", raw=json.dumps({"model": "triage", "messages": [{"role": "user", "content": "m"}] * 5}))
assert st == 200 and h["x-switchyard-model"] == "big" and "5 messages" in h["x-switchyard-reason"], h

# fallback over a 500 and a malformed body
a, h = ok("chain", "go")
assert h["x-switchyard-model"] == "small" and h["x-switchyard-attempts"] == "3", h
# a 400 from an upstream is the request's fault: no fallback
st, data, h = chat("refused", "go")
assert st == 502 and json.loads(data)["error"]["code"] == "UPSTREAM_ERROR" and "HTTP 400" in data, (st, data)

# retry honouring Retry-After: 1 s
t0 = time.time()
a, h = ok("patient", "again")
assert h["x-switchyard-attempts"] == "2" and time.time() - t0 >= 0.9, (h, time.time() - t0)

# circuit breaker with one candidate: 2 failures open it, the third call is refused at once
for _ in range(2):
    st, data, h = chat("fragile")
    assert st == 502, (st, data)
calls_before = stats()["calls"].get("fail", 0)
st, data, h = chat("fragile")
assert st == 503 and json.loads(data)["error"]["code"] == "UPSTREAM_UNAVAILABLE" and "retry-after" in h, (st, data, h)
assert stats()["calls"].get("fail", 0) == calls_before, "an open breaker must not call"

# cascade: the cheap answer states confidence 0.2 < 0.5, escalate to the next
a, h = ok("careful", "what is 6 x 7?")
assert h["x-switchyard-model"] == "jsonbot" and h["x-switchyard-attempts"] == "2", h
assert json.loads(a["choices"][0]["message"]["content"])["answer"] == 42
# schema verifier: the echo is not JSON, the second passes the schema
a, h = ok("strict", "answer in JSON")
assert h["x-switchyard-model"] == "jsonbot", h

# racing: the fast candidate wins and the slow one is cancelled
t0 = time.time()
a, h = ok("racer", "quick")
assert h["x-switchyard-model"] == "small" and time.time() - t0 < 2.5, (h, time.time() - t0)
assert "won" in h["x-switchyard-reason"]
for _ in range(40):
    if stats()["disconnects"].get("slow", 0) >= 1:
        break
    time.sleep(0.1)
assert stats()["disconnects"].get("slow", 0) >= 1, stats()

# time-to-first-token timeout
t0 = time.time()
st, data, h = chat("hurry")
assert st == 502 and "time-to-first-token" in data and time.time() - t0 < 2.5, (st, data)

# budget: the first call spends more than the limit, the next is refused
a, h = ok("budgeted", "spend")
st, data, h = chat("budgeted", "more")
assert st == 429 and json.loads(data)["error"]["code"] == "BUDGET_EXHAUSTED", (st, data)
# per API key: one key's spend does not stop another's
a, h = ok("perkey", "spend", headers={"Authorization": "Bearer key-a"})
st, data, h = chat("perkey", "more", headers={"Authorization": "Bearer key-a"})
assert st == 429 and "this key" in json.loads(data)["error"]["message"], (st, data)
a, h = ok("perkey", "other key", headers={"Authorization": "Bearer key-b"})
# the same key spelled with other spaces is the same key, not a fresh budget (issue 23.11)
st, data, h = chat("perkey", "more", headers={"Authorization": "Bearer    key-a  "})
assert st == 429 and "this key" in json.loads(data)["error"]["message"], (st, data)
# downgrade near the limit (non-critical to the cheapest), critical requests keep the choice
a, h = ok("thrifty", "first")
assert h["x-switchyard-model"] == "big", h
a, h = ok("thrifty", "second")
assert h["x-switchyard-model"] == "small" and "downgraded" in h["x-switchyard-reason"], h
a, h = ok("thrifty", "third", headers={"x-switchyard-critical": "true"})
assert h["x-switchyard-model"] == "big", h

# semantic (USE-lite embeddings of the examples)
a, h = ok("topics", "can you write a small python function for me")
assert h["x-switchyard-model"] == "big" and "semantic" in h["x-switchyard-reason"], h
a, h = ok("topics", "hello, good morning to you")
assert h["x-switchyard-model"] == "small", h

# a regex that backtracks without end hits its work limit: quickly, counted, and the rule is
# taken (a prompt cannot steer around it) unless the rule says on_limit: skip (issue 23.13)
evil = "a" * 40 + "!"
t0 = time.time()
a, h = ok("backtrack", evil)
assert time.time() - t0 < 2 and h["x-switchyard-model"] == "big", (time.time() - t0, h)
a, h = ok("backtrack_skip", evil)
assert h["x-switchyard-model"] == "small", h
a, h = ok("backtrack", "plain words only")
assert h["x-switchyard-model"] == "big", h

# LLM classifier
a, h = ok("asked", "this is a hard one")
assert h["x-switchyard-model"] == "big" and "llm_classifier" in h["x-switchyard-reason"], h
a, h = ok("asked", "easy")
assert h["x-switchyard-model"] == "small", h
# A label the user steered into CR/LF and quotes: the default route, and one intact log line
# (checked with the decision log below; issue 23.12).
a, h = ok("asked", "please inject this")
assert "unknown label" in h["x-switchyard-reason"], h

# learned and strong/weak routers (trained above on USE-lite embeddings)
a, h = ok("learnt", "please debug my python program, it crashes")
assert h["x-switchyard-model"] == "big" and "learned: class big" in h["x-switchyard-reason"], h
a, h = ok("learnt", "hello, thanks!")
assert h["x-switchyard-model"] == "small", h
a, h = ok("sw", "prove this theorem about irrational numbers")
assert h["x-switchyard-model"] == "big" and "strong_weak" in h["x-switchyard-reason"], h
a, h = ok("sw", "good morning, how are you")
assert h["x-switchyard-model"] == "small", h

# streams: passed through as they arrive, with usage accounted
st, data, h = chat("plain", "stream me", stream=True)
assert st == 200 and h["content-type"].startswith("text/event-stream"), (st, h)
events = [l[6:] for l in data.split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]"
text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1] if json.loads(e)["choices"])
assert sorted(text) == sorted("[echo-small] stream me"), text
assert stats()["last_body"]["echo-small"]["stream"] is True
# a route that needs the whole answer (cascade) synthesizes the stream
st, data, h = chat("careful", "x", stream=True)
assert st == 200 and "data: [DONE]" in data and '\\"answer\\": 42' in data, data
# a stream cut midway ends with an error event
st, data, h = chat("cutoff", "x", stream=True)
assert st == 200 and "UPSTREAM_ERROR" in data and "[DONE]" not in data, data

# bad bodies: 400 with the field named, the server keeps serving
for raw, frag in [("{", "JSON"), ("[]", "object"), ('{"messages":[]}', "model"),
                  ('{"model":"plain"}', "messages"), ('{"model":"plain","messages":[{"content":"x"}]}', "messages[0]"),
                  ('{"model":"plain","messages":[{"role":"user","content":5}]}', "content"),
                  ('{"model":"plain","messages":[{"role":"user","content":"x"}],"stream":"yes"}', "stream"),
                  ('{"model":"plain","messages":[{"role":"user","content":"x"}],"metadata":[]}', "metadata")]:
    st, data, h = chat(None, raw=raw)
    assert st == 400 and frag in json.loads(data)["error"]["message"], (raw, st, data)
st, data, h = chat("nope")
assert st == 404 and json.loads(data)["error"]["code"] == "MODEL_NOT_FOUND"

# task table: /v1/encode/retrieve runs bert; a 50/50 split reaches both models
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("POST", "/v1/encode/retrieve", json.dumps({"items": [{"text": "x"}]}), {"Content-Type": "application/json"})
r = c.getresponse(); body = json.loads(r.read())
assert r.status == 200 and r.getheader("x-switchyard-model") == "bert", (r.status, body)
seen = set()
for _ in range(30):
    c.request("POST", "/v1/encode/split", json.dumps({"items": [{"text": "x"}]}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    seen.add(r.getheader("x-switchyard-model"))
assert seen == {"bert", "roberta"}, seen

# shadow traffic: the answer is bert's, and roberta gets a copy in the background
c.request("GET", "/v1/models/roberta"); before = json.loads(c.getresponse().read())["requests"]
c.request("POST", "/v1/encode/shadowed", json.dumps({"items": [{"text": "x"}]}), {"Content-Type": "application/json"})
r = c.getresponse(); body = json.loads(r.read())
assert r.status == 200 and r.getheader("x-switchyard-model") == "bert" and body["items"][0]["dense"]["dims"] == 64
for _ in range(50):
    c.request("GET", "/v1/models/roberta"); after = json.loads(c.getresponse().read())["requests"]
    if after > before:
        break
    time.sleep(0.1)
assert after == before + 1, (before, after)

# explained: decision log lines and Prometheus counters
lines = [json.loads(l) for l in open(f"{tmp}/decisions.jsonl")]
assert not any("forged" in l for l in lines), "a classifier label forged a decision-log line"
assert any(l.get("signals", {}).get("label", "").startswith("sm\r\nall") for l in lines), \
    "the steered label is not in the log, escaped"
assert len(lines) >= 30, len(lines)
last = [l for l in lines if l["route"] == "chain"][-1]
assert last["choice"] == "small" and [a["candidate"] for a in last["attempts"]] == ["fail", "broken", "small"], last
assert all(k in last for k in ("time", "policy", "signals", "reason", "latency_ms", "prompt_tokens", "cost_usd"))
assert any(a["result"].startswith("cancelled") for l in lines if l["route"] == "racer" for a in l["attempts"])
# a passed-through stream is counted, charged and logged as any answer; one cut midway is an error
streamed = [l for l in lines if l["route"] == "plain" and l["attempts"] and l["attempts"][-1]["result"] == "streaming"]
assert streamed and streamed[0]["status"] == 200 and streamed[0]["completion_tokens"] > 0 and streamed[0]["cost_usd"] > 0, streamed
cut = [l for l in lines if l["route"] == "cutoff"][-1]
assert cut["error"] == "UPSTREAM_ERROR" and cut["attempts"][-1]["result"].startswith("stream broke off"), cut
c.request("GET", "/metrics"); m = c.getresponse().read().decode()
for k in ['switchyard_router_regex_limits_total{route="backtrack",rule="rule 1"}', 'switchyard_router_decisions_total{route="triage",candidate="big"}', "switchyard_router_escalations_total",
          "switchyard_router_fallbacks_total", 'switchyard_router_breaker_open{candidate="fail2"} 1',
          "switchyard_router_spend_usd_total", 'switchyard_router_refusals_total{route="budgeted",code="BUDGET_EXHAUSTED"}',
          'switchyard_router_decisions_total{route="cutoff",candidate="cut"} 1']:
    assert k in m, k
c.request("GET", "/"); page = c.getresponse().read().decode()
assert '<table id="routes">' in page, page[-2000:]
# the page renders its routes from /v1/status (the same JSON is embedded in it for the first paint)
c.request("GET", "/v1/status"); status = json.loads(c.getresponse().read())
assert any(cd["name"] == "fail2" and cd["breaker"] == "open" for r in status["routes"] for cd in r["candidates"]), status["routes"]
assert '"breaker":"open"' in page, "the page's embedded snapshot lacks the open breaker"
c.request("GET", "/v1/routes"); routes = json.loads(c.getresponse().read())
assert any(r["name"] == "fragile" and r["candidates"][0]["breaker"] == "open" for r in routes["data"]), routes
print("ok: routing")
PY

# the Python SDK (clients/python): chat through a route, streamed and not, and extract
PYTHONPATH=clients/python python3 - "$URL" <<'PY' || fail "Python SDK chat/extract"
import json, sys
from switchyard import Client
c = Client(sys.argv[1])
r = c.chat("triage", [{"role": "user", "content": "refund please"}])
assert r["choices"][0]["message"]["content"] == "[echo-big] refund please", r
text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in c.chat("plain", [{"role": "user", "content": "abc"}], stream=True) if ch.get("choices"))
assert sorted(text) == sorted("[echo-small] abc"), text
g = json.load(open("tests/golden/ner-tiny.json"))["texts"][0]
res = c.extract("ner", [g["text"]], aggregation="first")
assert [(e.label, e.start, e.end) for e in res.items[0].entities] == [(e["label"], e["start"], e["end"]) for e in g["entities"]["first"]]
print("ok: python SDK chat and extract")
PY

# the official openai npm client through routes (plain, streamed, errors)
[ -d tests/compat/node_modules/openai ] || fail "tests/compat/node_modules is missing: run \`make deps-node\`"
(cd tests/compat && node openai_chat.mjs "$URL") || fail "openai npm client chat"

# reload while a request is in flight: it finishes on the routes it started with
curl -s -o "$tmp/inflight.json" -w '%{http_code}' "$URL/v1/chat/completions" \
	-d '{"model":"slowrace","messages":[{"role":"user","content":"x"}]}' >"$tmp/inflight.code" &
inflight=$!
sleep 0.5
curl -sf -X POST "$URL/v1/admin/router/reload" | grep -q '"reloaded":true' || fail "reload in flight"
wait "$inflight"
[ "$(cat "$tmp/inflight.code")" = 200 ] && grep -q 'chatcmpl-mock' "$tmp/inflight.json" || fail "the in-flight request did not finish after a reload"

# reload: a new route appears through the admin route and through SIGHUP
sed -i 's/^  plain: {policy: static, candidates: \[small\]}/  plain: {policy: static, candidates: [small]}\n  fresh: {policy: static, candidates: [big]}/' "$tmp/config.yaml"
curl -sf -X POST "$URL/v1/admin/router/reload" | grep -q '"reloaded":true' || fail "admin reload"
curl -sf "$URL/v1/chat/completions" -d '{"model":"fresh","messages":[{"role":"user","content":"x"}]}' | grep -q 'echo-big' || fail "route after reload"
sed -i 's/^  fresh: {policy: static, candidates: \[big\]}/  fresh: {policy: static, candidates: [big]}\n  newer: {policy: static, candidates: [small]}/' "$tmp/config.yaml"
kill -HUP "$PID"
for _ in $(seq 1 50); do
	curl -s "$URL/v1/chat/completions" -d '{"model":"newer","messages":[{"role":"user","content":"x"}]}' | grep -q 'echo-small' && break
	sleep 0.1
done
curl -sf "$URL/v1/chat/completions" -d '{"model":"newer","messages":[{"role":"user","content":"x"}]}' | grep -q 'echo-small' || fail "route after SIGHUP"
# a broken config keeps the routes in use
echo "routes: [oops" >>"$tmp/config.yaml"
code=$(curl -s -o "$tmp/reload.json" -w '%{http_code}' -X POST "$URL/v1/admin/router/reload")
[ "$code" = 400 ] || fail "broken reload answered $code"
curl -sf "$URL/v1/chat/completions" -d '{"model":"newer","messages":[{"role":"user","content":"x"}]}' | grep -q 'echo-small' || fail "routes lost after a failed reload"
# a file truncated to nothing would drop every route: refused by SIGHUP and the admin route,
# taken only with allow_empty=true (issue 23.7)
cp "$tmp/config.yaml" "$tmp/config.full"
: >"$tmp/config.yaml"
code=$(curl -s -o "$tmp/reload.json" -w '%{http_code}' -X POST "$URL/v1/admin/router/reload")
[ "$code" = 400 ] && grep -q "no routes" "$tmp/reload.json" || fail "an emptied config reloaded: $code $(cat "$tmp/reload.json")"
kill -HUP "$PID"
sleep 0.3
curl -sf "$URL/v1/chat/completions" -d '{"model":"newer","messages":[{"role":"user","content":"x"}]}' | grep -q 'echo-small' || fail "routes lost after an emptied config"
curl -sf -X POST "$URL/v1/admin/router/reload?allow_empty=true" | grep -q '"routes":0' || fail "allow_empty reload"
grep -v '^routes: \[oops' "$tmp/config.full" >"$tmp/config.yaml" # without the broken line
curl -sf -X POST "$URL/v1/admin/router/reload" | grep -q '"reloaded":true' || fail "reload after allow_empty"
echo "ok: reload"
