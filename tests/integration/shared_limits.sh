#!/usr/bin/env bash
# Two serving processes share circuit breakers and rate-limit windows through NATS JetStream's
# key-value store (router: {shared_state: {nats: URL, breakers: true, rate_limits: true}}) with
# a real nats-server on loopback and the scripted upstream (tests/integration/lib/mock_llm.py):
# a failing upstream opens its breaker through process A and process B then skips it without a
# call; an rpm limit of 3 is enforced across both together (429 RATE_LIMITED in either once the
# three were spent between them, and the other candidate taken on a route with a fallback); a
# third process with the same NATS but the switches off keeps its own breakers and windows.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/nats.sh"
start_nats 120
sy_bg timeout 120 python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
cat >"$tmp/config.yaml" <<YAML
upstreams:
  broken: {base_url: "$MOCK", model: fail}
  backup: {base_url: "$MOCK", model: echo-backup}
  metered: {base_url: "$MOCK", model: echo-metered, rpm: 3}
  spare: {base_url: "$MOCK", model: echo-spare}
routes:
  flaky:
    policy: static
    candidates: [broken, backup]
    breaker: {failures: 2, cooldown_s: 60}
  limited:
    policy: static
    candidates: [metered]
  limited_fallback:
    policy: static
    candidates: [metered, spare]
router:
  shared_state: {nats: "$NATS", bucket: sy_test_limits, breakers: true, rate_limits: true}
YAML
sy_start a --config "$tmp/config.yaml"
A=$URL
sy_start b --config "$tmp/config.yaml"
B=$URL
chat() { # $1 base URL, $2 route; prints the status; headers in $tmp/h
	curl -s -m 20 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$1/v1/chat/completions" \
		-d "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}"
}
calls() { curl -s "http://127.0.0.1:$(cat "$tmp/mock.port")/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['calls'].get(sys.argv[1], 0))" "$1"; }
breaker_of() { # $1 base URL, $2 route, $3 candidate: its breaker state in /v1/routes
	curl -s "$1/v1/routes" | python3 -c "
import json, sys
r = [r for r in json.load(sys.stdin)['data'] if r['name'] == sys.argv[1]][0]
print(json.dumps(r.get('breakers', r.get('candidates'))))" "$2"
}
# breaker: two failures through A open it
for i in 1 2; do
	[ "$(chat "$A" flaky)" = 200 ] && [ "$(hdr x-switchyard-model)" = backup ] || fail "A $i: $(cat "$tmp/b")"
done
[ "$(calls fail)" = 2 ] || fail "broken called $(calls fail) times, wanted 2"
# B skips it without a call
[ "$(chat "$B" flaky)" = 200 ] || fail "B flaky: $(cat "$tmp/b")"
[ "$(hdr x-switchyard-model)" = backup ] || fail "B answered by $(hdr x-switchyard-model)"
[ "$(hdr x-switchyard-attempts)" = 1 ] || fail "B made $(hdr x-switchyard-attempts) calls (the breaker opened in A was not seen)"
hdr x-switchyard-reason | grep -q "skipped without a call (breaker open)" || fail "B reason: $(hdr x-switchyard-reason)"
[ "$(calls fail)" = 2 ] || fail "B called the broken upstream"
curl -s "$B/metrics" | grep -q 'switchyard_router_breaker_open{candidate="broken"} 1' || fail "B's breaker gauge"
# rate limit: 3 per minute across both processes together
[ "$(chat "$A" limited)" = 200 ] || fail "rpm A 1"
[ "$(chat "$B" limited)" = 200 ] || fail "rpm B 1"
[ "$(chat "$A" limited)" = 200 ] || fail "rpm A 2"
[ "$(chat "$B" limited)" = 429 ] || fail "B not refused after 3 requests between A and B: $(cat "$tmp/b")"
grep -q RATE_LIMITED "$tmp/b" || fail "B refusal body: $(cat "$tmp/b")"
[ -n "$(hdr retry-after)" ] || fail "no Retry-After"
[ "$(chat "$A" limited)" = 429 ] || fail "A not refused"
[ "$(chat "$B" limited_fallback)" = 200 ] && [ "$(hdr x-switchyard-model)" = spare ] || fail "B fallback took $(hdr x-switchyard-model)"
[ "$(calls echo-metered)" = 3 ] || fail "metered called $(calls echo-metered) times, wanted 3"
# concurrent takes from both processes never let more than the limit through
cat >"$tmp/conc.yaml" <<YAML
upstreams:
  burst: {base_url: "$MOCK", model: echo-burst, rpm: 5}
routes:
  burst: {policy: static, candidates: [burst]}
router:
  shared_state: {nats: "$NATS", bucket: sy_test_limits, breakers: true, rate_limits: true}
YAML
sy_start c --config "$tmp/conc.yaml"
C=$URL
sy_start d --config "$tmp/conc.yaml"
D=$URL
cpids=()
for i in $(seq 1 6); do
	for u in "$C" "$D"; do
		curl -s -m 20 -o /dev/null -w '%{http_code}\n' "$u/v1/chat/completions" \
			-d '{"model":"burst","messages":[{"role":"user","content":"hi"}]}' >"$tmp/code.$i.${u##*:}" &
		cpids+=($!)
	done
done
for p in "${cpids[@]}"; do wait "$p" || true; done
cat "$tmp"/code.* >"$tmp/codes"
ok=$(grep -c '^200$' "$tmp/codes" || true)
limited=$(grep -c '^429$' "$tmp/codes" || true)
[ "$ok" = 5 ] && [ "$limited" = 7 ] || fail "12 concurrent requests at rpm 5 across two processes: $ok answered, $limited limited"
# switches off: the same NATS, but breakers and windows per process
sed 's#, breakers: true, rate_limits: true##' "$tmp/config.yaml" >"$tmp/local.yaml"
sy_start e --config "$tmp/local.yaml"
[ "$(chat "$URL" limited)" = 200 ] || fail "a process without rate_limits shared was refused"
[ "$(chat "$URL" flaky)" = 200 ] || fail "e flaky"
[ "$(hdr x-switchyard-attempts)" = 2 ] || fail "a process without breakers shared skipped the broken upstream"
# a bad switch names its line
sed 's#breakers: true#breakers: maybe#' "$tmp/config.yaml" >"$tmp/bad.yaml"
if timeout 30 "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "breakers: maybe accepted"; fi
grep -q "breakers" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "bad switch message"; }
echo ok
