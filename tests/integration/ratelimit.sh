#!/usr/bin/env bash
# Rate limits per upstream (rpm, tpm in the upstreams section) over HTTP against the scripted
# upstream (tests/integration/lib/mock_llm.py): a candidate at its requests-per-minute limit is
# skipped for the next one in the route (the decision log says so), a route whose every
# candidate is at its limit answers 429 RATE_LIMITED with Retry-After without calling the
# provider, a tokens-per-minute limit counts the usage of earlier answers, the counter shows in
# /metrics, and a bad limit in the config is refused naming the line.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
cat >"$tmp/config.yaml" <<YAML
upstreams:
  a:    {base_url: "$MOCK", model: echo-a, rpm: 2}
  b:    {base_url: "$MOCK", model: echo-b}
  one:  {base_url: "$MOCK", model: echo-one, rpm: 1}
  toks: {base_url: "$MOCK", model: echo-toks, tpm: 5}
routes:
  spill: {policy: static, candidates: [a, b]}
  single: {policy: static, candidates: [one]}
  tokens: {policy: static, candidates: [toks]}
router:
  decision_log: $tmp/decisions.jsonl
YAML
sy_start srv --config "$tmp/config.yaml"
chat() { # $1 route; prints the status; headers in $tmp/h, body in $tmp/b
	curl -s -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$URL/v1/chat/completions" \
		-d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}"
}
for i in 1 2; do
	[ "$(chat spill)" = 200 ] || { cat "$tmp/b"; fail "spill $i"; }
	[ "$(hdr x-switchyard-model)" = a ] || fail "spill $i answered by $(hdr x-switchyard-model), wanted a"
done
[ "$(chat spill)" = 200 ] || { cat "$tmp/b"; fail "spill 3"; }
[ "$(hdr x-switchyard-model)" = b ] || fail "a at its rpm did not fall to b"
grep -q '"echo-b' "$tmp/b" || fail "answer from b"
tail -1 "$tmp/decisions.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["attempts"][0]["candidate"] == "a" and d["attempts"][0]["result"] == "rate limited", d
assert d["choice"] == "b" or d["attempts"][1]["candidate"] == "b", d' || fail "decision log of the rate-limited candidate"
# a single candidate at its limit: 429 with Retry-After, and the provider is not called
[ "$(chat single)" = 200 ] || fail "single 1"
calls_before=$(curl -s "$MOCK/../stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"].get("echo-one", 0))')
[ "$(chat single)" = 429 ] || { cat "$tmp/b"; fail "single at its rpm not 429"; }
grep -q '"RATE_LIMITED"' "$tmp/b" || { cat "$tmp/b"; fail "429 code"; }
ra=$(hdr retry-after)
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || fail "Retry-After '$ra'"
calls_after=$(curl -s "$MOCK/../stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"].get("echo-one", 0))')
[ "$calls_before" = "$calls_after" ] || fail "the provider was called past its rpm"
# tokens per minute: the first answer's usage (more than 5 tokens) uses the minute up
[ "$(chat tokens)" = 200 ] || fail "tokens 1"
[ "$(chat tokens)" = 429 ] || { cat "$tmp/b"; fail "tpm not enforced"; }
# the counter
# (read whole first: `grep -q` leaving early would fail curl's write, and pipefail the test)
curl -s "$URL/metrics" >"$tmp/metrics"
grep -q '^switchyard_router_rate_limited_total{route="spill",candidate="a"} 1' "$tmp/metrics" || { grep rate_limited "$tmp/metrics"; fail "rate_limited counter"; }
# a bad limit: the line and key
sed 's/rpm: 2/rpm: 0/' "$tmp/config.yaml" >"$tmp/bad.yaml"
if "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "rpm 0 accepted"; fi
grep -q "bad.yaml: line 2: rpm" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "bad rpm message"; }
echo ok
