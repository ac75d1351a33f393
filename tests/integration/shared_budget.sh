#!/usr/bin/env bash
# Two serving processes share one route budget through NATS JetStream's key-value store
# (router: {shared_state: {nats: URL}}) with a real nats-server on loopback and the scripted
# upstream (tests/integration/lib/mock_llm.py): spend made through one process is seen by the
# other (/v1/routes and the budget tier it applies), the budget runs out for both at once,
# concurrent spends from both are all counted (compare-and-set), the same config without
# shared_state keeps budgets per process, and a NATS that cannot be reached fails the config.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/nats.sh"
start_nats
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
# "hello there" through large: 10 + 7 tokens at 1000 USD/M = 0.017 USD
cat >"$tmp/config.yaml" <<YAML
upstreams:
  large: {base_url: "$MOCK", model: echo-large, price_input: 1000, price_output: 1000}
  small: {base_url: "$MOCK", model: echo-small, price_input: 0.001, price_output: 0.001}
routes:
  shared:
    policy: static
    candidates: [large, small]
    budget: {window: daily, limit_usd: 0.05, tiers: [{at: 0.3, map: {large: small}}]}
  counted:
    policy: static
    candidates: [large]
    budget: {window: daily, limit_usd: 1000}
router:
  shared_state: {nats: "$NATS", bucket: sy_test_budget}
YAML
sy_start a --config "$tmp/config.yaml"
A=$URL
sy_start b --config "$tmp/config.yaml"
B=$URL
chat() { # $1 base URL, $2 route; prints the status; headers in $tmp/h
	curl -s -m 20 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$1/v1/chat/completions" \
		-d "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}"
}
spent() { # $1 base URL, $2 route: its budget's spend in /v1/routes
	curl -s "$1/v1/routes" | python3 -c "
import json, sys
d = json.load(sys.stdin)
routes = d['data']
print('%.4f' % [r for r in routes if r['name'] == sys.argv[1]][0]['budget']['spent_usd'])" "$2"
}
# spend through A; B sees it and applies the tier
[ "$(chat "$A" shared)" = 200 ] && [ "$(hdr x-switchyard-model)" = large ] || fail "A 1"
[ "$(spent "$B" shared)" = 0.0170 ] || fail "B sees spent $(spent "$B" shared), wanted 0.0170"
[ "$(chat "$B" shared)" = 200 ] || fail "B 1"
[ "$(hdr x-switchyard-model)" = small ] || fail "B did not apply the tier from A's spend: $(hdr x-switchyard-reason)"
hdr x-switchyard-reason | grep -q "budget 34% spent: tier 1" || fail "B reason $(hdr x-switchyard-reason)"
# the budget runs out for both: critical requests through A spend it
curl -s -o /dev/null -H 'x-switchyard-critical: true' "$A/v1/chat/completions" -d '{"model":"shared","messages":[{"role":"user","content":"hello there"}]}'
curl -s -o /dev/null -H 'x-switchyard-critical: true' "$A/v1/chat/completions" -d '{"model":"shared","messages":[{"role":"user","content":"hello there"}]}'
[ "$(chat "$B" shared)" = 429 ] || { cat "$tmp/b"; fail "B not refused once A spent the budget"; }
[ "$(chat "$A" shared)" = 429 ] || fail "A not refused"
# concurrent spends from both processes: none lost
conc() { curl -s -m 20 -o /dev/null "$1/v1/chat/completions" -d '{"model":"counted","messages":[{"role":"user","content":"hello there"}]}'; }
cpids=()
for i in $(seq 1 10); do
	conc "$A" &
	cpids+=($!)
	conc "$B" &
	cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || fail "a concurrent request failed"; done
sa=$(spent "$A" counted)
sb=$(spent "$B" counted)
[ "$sa" = 0.3400 ] && [ "$sb" = 0.3400 ] || fail "20 concurrent spends of 0.017 gave A $sa, B $sb"
# without shared_state: per process
sed "s#shared_state: .*#decision_log: $tmp/local.jsonl#" "$tmp/config.yaml" >"$tmp/local.yaml"
sy_start c --config "$tmp/local.yaml"
[ "$(spent "$URL" shared)" = 0.0000 ] || fail "a process without shared_state saw the shared spend"
# an unreachable NATS fails the config, naming it
sed "s#$NATS#nats://127.0.0.1:1#" "$tmp/config.yaml" >"$tmp/bad.yaml"
if timeout 30 "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "unreachable NATS accepted"; fi
grep -q "shared_state: cannot connect to NATS at nats://127.0.0.1:1" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "unreachable NATS message"; }
echo ok
