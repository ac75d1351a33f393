#!/usr/bin/env bash
# Feedback on routed answers over HTTP: POST /v1/feedback {request_id, score or label, comment}
# is joined to the decision of the request whose X-Request-ID it names (404 for an unknown id,
# 400 for a bad body), written to the decision log and counted in /metrics (feedback, successes,
# misroutes per route and candidate); `switchyard eval log` then turns the decision log plus a
# separate feedback file into per-candidate quality, cost and latency.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
cat >"$tmp/config.yaml" <<YAML
upstreams:
  small: {base_url: "$MOCK", model: echo-small, price_input: 1, price_output: 2}
  big:   {base_url: "$MOCK", model: echo-big, price_input: 10, price_output: 30}
routes:
  cheap: {policy: static, candidates: [small]}
  smart: {policy: static, candidates: [big]}
router:
  decision_log: $tmp/decisions.jsonl
YAML
sy_start srv --config "$tmp/config.yaml"
chat() { # $1 route, $2 request id
	curl -s -o /dev/null -w '%{http_code}' -H "X-Request-ID: $2" "$URL/v1/chat/completions" \
		-d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
}
fb() { # $1 body; prints the status, body in $tmp/fb
	curl -s -o "$tmp/fb" -w '%{http_code}' "$URL/v1/feedback" -d "$1"
}
[ "$(chat cheap req-1)" = 200 ] && [ "$(chat cheap req-2)" = 200 ] && [ "$(chat smart req-3)" = 200 ] && [ "$(chat smart req-4)" = 200 ] || fail "chat"
[ "$(fb '{"request_id":"req-1","score":0.9,"comment":"spot on"}')" = 200 ] || { cat "$tmp/fb"; fail "feedback 1"; }
grep -q '"route":"cheap","model":"small"' "$tmp/fb" || { cat "$tmp/fb"; fail "feedback answer names the decision"; }
[ "$(fb '{"request_id":"req-2","label":"misroute","comment":"needed the big one"}')" = 200 ] || fail "feedback 2"
[ "$(fb '{"request_id":"req-3","label":"good"}')" = 200 ] || fail "feedback 3"
[ "$(fb '{"request_id":"nope","score":1}')" = 404 ] || { cat "$tmp/fb"; fail "unknown id not 404"; }
grep -q "request_id 'nope'" "$tmp/fb" || { cat "$tmp/fb"; fail "404 message"; }
[ "$(fb '{"request_id":"req-1"}')" = 400 ] || fail "no score or label"
[ "$(fb '{"request_id":"req-1","score":2}')" = 400 ] || fail "score out of range"
[ "$(fb 'not json')" = 400 ] || fail "bad body"
curl -s "$URL/metrics" >"$tmp/metrics"
grep -q '^switchyard_router_feedback_total{route="cheap",candidate="small"} 2' "$tmp/metrics" || { grep feedback "$tmp/metrics"; fail "feedback counter"; }
grep -q '^switchyard_router_feedback_success_total{route="cheap",candidate="small"} 1' "$tmp/metrics" || fail "success counter"
grep -q '^switchyard_router_misroutes_total{route="cheap",candidate="small"} 1' "$tmp/metrics" || fail "misroute counter"
grep -q '"request_id":"req-1","route":"cheap"' "$tmp/decisions.jsonl" || fail "decision log has the request id"
grep -q '"type":"feedback","request_id":"req-2","route":"cheap","choice":"small","label":"misroute"' "$tmp/decisions.jsonl" || { cat "$tmp/decisions.jsonl"; fail "feedback line in the log"; }
# feedback gathered elsewhere (a separate file) joins the same way
printf '{"request_id":"req-4","score":0.2}\n{"request_id":"gone","label":"good"}\n' >"$tmp/more.jsonl"
"$SY" eval log --log "$tmp/decisions.jsonl" --feedback "$tmp/more.jsonl" --json >"$tmp/log.json" || fail "eval log"
python3 - "$tmp/log.json" <<'PY' || { cat "$tmp/log.json"; fail "eval log numbers"; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["requests"] == 4 and r["feedback"] == 5 and r["unmatched_feedback"] == 1, r
s = r["routes"]["cheap"]["small"]
assert s["requests"] == 2 and s["errors"] == 0 and s["feedback"] == 2, s
assert s["success_rate"] == 0.5 and s["misroutes"] == 1 and abs(s["mean_score"] - 0.9) < 1e-9, s
assert s["cost_usd"] > 0 and s["p50_ms"] is not None and s["p95_ms"] >= s["p50_ms"], s
b = r["routes"]["smart"]["big"]
assert b["feedback"] == 2 and b["success_rate"] == 0.5 and abs(b["mean_score"] - 0.2) < 1e-9, b
assert b["cost_usd"] > s["cost_usd"], (b, s)
PY
"$SY" eval log --log "$tmp/decisions.jsonl" | grep -q "^cheap *small *2" || fail "eval log text"
printf '{"route":"x"}\nnot json\n' >"$tmp/bad.jsonl"
if "$SY" eval log --log "$tmp/bad.jsonl" 2>"$tmp/err"; then fail "bad log accepted"; fi
grep -q "bad.jsonl: line 2: expected a JSON object" "$tmp/err" || { cat "$tmp/err"; fail "bad log message"; }
echo ok
