#!/usr/bin/env bash
# Budget tiers over HTTP against the scripted upstream (tests/integration/lib/mock_llm.py): as
# the route's daily spend passes each tier's share of the limit, its candidates are replaced by
# the cheaper ones the tier maps them to (the reason says which tier and what changed), a
# critical request keeps the policy's choice, the spent budget refuses with 429, and bad tiers
# name their line.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
# "hello there" costs 10 prompt + 7 completion tokens on large (0.017 USD at 1000/M),
# 16 tokens on mid (0.0016 at 100/M) and next to nothing on small
cat >"$tmp/config.yaml" <<YAML
upstreams:
  large: {base_url: "$MOCK", model: echo-large, price_input: 1000, price_output: 1000}
  mid:   {base_url: "$MOCK", model: echo-mid, price_input: 100, price_output: 100}
  small: {base_url: "$MOCK", model: echo-small, price_input: 0.1, price_output: 0.1}
routes:
  tiered:
    policy: static
    candidates: [large, mid, small]
    budget:
      window: daily
      limit_usd: 0.025
      tiers:
        - {at: 0.5, map: {large: mid}}
        - {at: 0.8, map: {large: small, mid: small}}
router:
  decision_log: $tmp/decisions.jsonl
YAML
sy_start srv --config "$tmp/config.yaml"
chat() { # $1 extra curl args; prints the status; headers in $tmp/h, body in $tmp/b
	curl -s -m 20 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' ${1:+"$1"} "$URL/v1/chat/completions" \
		-d '{"model":"tiered","messages":[{"role":"user","content":"hello there"}]}'
}
want() { # $1 model; $2 reason pattern
	[ "$(hdr x-switchyard-model)" = "$1" ] || { hdr x-switchyard-reason; fail "answered by $(hdr x-switchyard-model), wanted $1"; }
	hdr x-switchyard-reason | grep -q -- "$2" || fail "reason '$(hdr x-switchyard-reason)' lacks '$2'"
}
[ "$(chat)" = 200 ] && want large "^static: large$"                               # 0 % spent
[ "$(chat)" = 200 ] && want mid "budget 68% spent: tier 1 (at 0.50): large->mid"  # 0.017 of 0.025
[ "$(chat)" = 200 ] && want mid "budget 74% spent: tier 1"
[ "$(chat)" = 200 ] && want small "budget 81% spent: tier 2 (at 0.80): large->small, mid->small"
# the fallback chain after a tier: small once, not the same candidate twice
tail -1 "$tmp/decisions.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert [a["candidate"] for a in d["attempts"]] == ["small"], d' || fail "tier 2 attempts"
# a critical request keeps the policy's choice, and spends the rest of the budget
[ "$(chat "-Hx-switchyard-critical: true")" = 200 ] && want large "^static: large$"
[ "$(chat)" = 429 ] || { cat "$tmp/b"; fail "spent budget not refused"; }
grep -q BUDGET_EXHAUSTED "$tmp/b" || fail "429 code"
# bad tiers: descending, an unknown candidate
sed 's/at: 0.8/at: 0.4/' "$tmp/config.yaml" >"$tmp/bad.yaml"
if "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "descending tiers accepted"; fi
grep -q "bad.yaml: line [0-9]*: tier must come after a lower one" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "descending tiers message"; }
sed 's/large: mid}/large: tiny}/' "$tmp/config.yaml" >"$tmp/bad.yaml"
if "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "unknown tier candidate accepted"; fi
grep -q '"tiny" is not one of its candidates' "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "unknown tier candidate message"; }
echo ok
