#!/usr/bin/env bash
# A/B splits and shadow calls of LLM routes over HTTP against the scripted upstream
# (tests/integration/lib/mock_llm.py): a split by request id (the same id always gets the same
# arm, both arms get traffic), a random split by weight (the share within bounds), the split and
# arm in the headers and the decision log, a shadow whose answer goes to the decision log and
# counters but never to the client, a slow shadow that does not delay the answer and does not
# keep the server from stopping, the official `openai` npm client in front
# (tests/compat/openai_ab.mjs); and from issue 21's "also fix" list: x-switchyard-attempts does
# not count candidates the breaker skipped, the reason does not name them, and the router's
# metrics label candidates candidate=, and /v1/models lists the routes and tasks.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
cat >"$tmp/config.yaml" <<YAML
upstreams:
  a:    {base_url: "$MOCK", model: echo-a, price_input: 1, price_output: 1}
  b:    {base_url: "$MOCK", model: echo-b, price_input: 1, price_output: 1}
  sh:   {base_url: "$MOCK", model: echo-shadow, price_input: 2, price_output: 2}
  slowsh: {base_url: "$MOCK", model: slow, timeout_ms: 10000}
  down: {base_url: "$MOCK", model: fail}
routes:
  ab: {policy: static, candidates: [a, b], split: {arms: {a: 1, b: 1}}, shadow: sh}
  weighted: {policy: static, candidates: [a, b], split: {by: random, arms: {a: 3, b: 1}}}
  shadowslow: {policy: static, candidates: [a], shadow: slowsh}
  broken: {policy: static, candidates: [down, b], breaker: {failures: 1, cooldown_s: 60}}
tasks:
  retrieve: {operation: encode, model: use-lite}
router:
  decision_log: $tmp/decisions.jsonl
YAML
sy_start srv --config "$tmp/config.yaml"
chat() { # $1 route, $2 request id ("" none); prints the status; headers in $tmp/h, body in $tmp/b
	local idh=()
	[ -n "${2:-}" ] && idh=(-H "x-request-id: $2")
	curl -s -m 20 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "${idh[@]}" "$URL/v1/chat/completions" \
		-d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
}

# by request id: deterministic, both arms used, headers and log
na=0 nb=0
for i in $(seq 1 30); do
	[ "$(chat ab "ab-$i")" = 200 ] || { cat "$tmp/b"; fail "ab $i"; }
	arm=$(hdr x-switchyard-arm)
	[ "$arm" = "$(hdr x-switchyard-model)" ] || fail "arm $arm but model $(hdr x-switchyard-model)"
	grep -q "\"\\[echo-$arm\\] hello\"" "$tmp/b" || { cat "$tmp/b"; fail "answer not from the arm $arm"; }
	[ "$(hdr x-switchyard-split)" = "request_id a=0.5 b=0.5" ] || fail "split header '$(hdr x-switchyard-split)'"
	[ "$(hdr x-switchyard-shadow)" = sh ] || fail "shadow header"
	hdr x-switchyard-reason | grep -q "A/B split by request id: arm $arm (50%)" || fail "reason '$(hdr x-switchyard-reason)'"
	[ "$(chat ab "ab-$i")" = 200 ] || fail "ab $i again"
	[ "$(hdr x-switchyard-arm)" = "$arm" ] || fail "ab-$i: arm $arm then $(hdr x-switchyard-arm)"
	if [ "$arm" = a ]; then na=$((na + 1)); else nb=$((nb + 1)); fi
done
[ "$na" -ge 5 ] && [ "$nb" -ge 5 ] || fail "30 ids split $na/$nb"
! grep -q shadow "$tmp/b" || fail "the shadow's answer reached the client"
# the shadow's lines in the log, joined by request id (they arrive in the background)
for _ in $(seq 1 50); do [ "$(grep -c '"type":"shadow"' "$tmp/decisions.jsonl")" -ge 60 ] && break; sleep 0.1; done
python3 - "$tmp/decisions.jsonl" <<'PY' || fail "decision log of splits and shadows"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
dec = [d for d in lines if d.get("route") == "ab" and "type" not in d]
sh = [d for d in lines if d.get("type") == "shadow"]
assert len(dec) == 60 and len(sh) == 60, (len(dec), len(sh))
for d in dec:
    assert d["split"] == "request_id a=0.5 b=0.5" and d["arm"] == d["choice"] and d["shadow"] == "sh", d
ids = {d["request_id"] for d in dec}
for s in sh:
    assert s["request_id"] in ids and s["route"] == "ab" and s["candidate"] == "sh", s
    assert s["status"] == 200 and s["result"] == "ok" and s["content"] == "[echo-shadow] hello", s
    assert s["cost_usd"] > 0 and s["prompt_tokens"] > 0, s
PY
curl -s "$URL/metrics" >"$tmp/metrics"
grep -q '^switchyard_router_shadows_total{route="ab",candidate="sh"} 60' "$tmp/metrics" || { grep shadow "$tmp/metrics"; fail "shadows counter"; }
grep -q '^switchyard_router_arms_total{route="ab",candidate="a"} '"$((na * 2))" "$tmp/metrics" || { grep arms "$tmp/metrics"; fail "arms counter"; }
grep -q '^switchyard_router_shadow_spend_usd_total{route="ab",candidate="sh"} ' "$tmp/metrics" || fail "shadow spend"
# shadow spend is not the route's spend
grep -q '^switchyard_router_spend_usd_total{route="ab",candidate="sh"}' "$tmp/metrics" && fail "shadow charged as the route's spend"
# metrics label candidates candidate= (not label=)
grep -q '^switchyard_router_decisions_total{route="ab",candidate="b"}' "$tmp/metrics" || fail "decisions label"
! grep -q '^switchyard_router_.*label=' "$tmp/metrics" || fail "a router metric still says label="

# random by weight: 3:1 within bounds over 120 requests (p of falling outside < 1e-4)
na=0
for i in $(seq 1 120); do
	[ "$(chat weighted)" = 200 ] || fail "weighted $i"
	[ "$(hdr x-switchyard-arm)" = a ] && na=$((na + 1))
done
[ "$na" -ge 70 ] && [ "$na" -le 108 ] || fail "random 3:1 split gave a $na of 120"
[ "$(hdr x-switchyard-split)" = "random a=0.75 b=0.25" ] || fail "weighted split header"

# a slow shadow delays nothing
t0=$(date +%s%N)
[ "$(chat shadowslow)" = 200 ] || fail "shadowslow"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 2000 ] || fail "a 3 s shadow delayed the answer to $ms ms"

# attempts and reason when the breaker skips the policy's choice
[ "$(chat broken)" = 200 ] || fail "broken 1"
[ "$(hdr x-switchyard-attempts)" = 2 ] || fail "broken 1 attempts $(hdr x-switchyard-attempts)"
[ "$(chat broken)" = 200 ] || fail "broken 2"
[ "$(hdr x-switchyard-model)" = b ] || fail "broken 2 model"
[ "$(hdr x-switchyard-attempts)" = 1 ] || fail "a candidate the breaker skipped counted: attempts $(hdr x-switchyard-attempts)"
! hdr x-switchyard-reason | grep -q down || fail "the reason names the skipped candidate: $(hdr x-switchyard-reason)"
tail -1 "$tmp/decisions.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["attempts"][0] == {"candidate": "down", "status": 0, "ms": 0.0, "result": "breaker open"}, d
assert d["policy_reason"] == "static: down", d' || fail "the log keeps the skipped attempt and the policy reason"

# /v1/models lists the routes and tasks after the models
curl -s "$URL/v1/models" | python3 -c '
import json, sys
d = {m["id"]: m for m in json.load(sys.stdin)["data"]}
assert d["ab"]["object"] == "model" and d["ab"]["kind"] == "route" and d["ab"]["policy"] == "static" and d["ab"]["candidates"] == ["a", "b"], d
assert d["retrieve"]["kind"] == "task" and d["retrieve"]["operation"] == "encode" and d["retrieve"]["model"] == "use-lite", d' || fail "/v1/models routes and tasks"
[ "$(curl -s -o "$tmp/b" -w '%{http_code}' "$URL/v1/models/weighted")" = 200 ] && grep -q '"kind":"route"' "$tmp/b" || fail "/v1/models/ROUTE"
# the official openai npm client
[ -d tests/compat/node_modules/openai ] || fail "tests/compat/node_modules is missing: run \`make deps-node\`"
(cd tests/compat && timeout 60 node openai_ab.mjs "$URL") || fail "openai npm client through an A/B route"

# a shadow still running when the server stops: the server ends anyway, promptly
[ "$(chat shadowslow)" = 200 ] || fail "shadowslow 2"
kill -TERM "$PID"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$PID" 2>/dev/null || fail "the server did not stop within 10 s with a shadow in flight"
echo ok
