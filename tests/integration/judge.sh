#!/usr/bin/env bash
# The LLM judge as a cascade verifier (a route's `judge: {upstream, rubric, threshold}`) against
# the scripted upstream (tests/integration/lib/mock_llm.py: `grader` gives echo-qN's answers the
# score N): the first candidate's answer scored under the threshold escalates to the next, the
# rubric reaches the judge as its system message, the last candidate is not judged, the grades
# are in x-switchyard-judge, the reason, the attempts and the decision log, the judge's cost is
# in the answer's cost, the route's budget and its metrics, a judge reply without a score is
# accepted (or escalates with on_error: escalate), bad judge settings name their line, and the
# official `openai` npm client calls a judged route (tests/compat/openai_judge.mjs).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg timeout 120 python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MPORT=$(cat "$tmp/mock.port")
MOCK=http://127.0.0.1:$MPORT/v1
cat >"$tmp/config.yaml" <<YAML
upstreams:
  cheap: {base_url: "$MOCK", model: echo-q2, price_input: 1, price_output: 1}
  mid: {base_url: "$MOCK", model: echo-q8, price_input: 10, price_output: 10}
  big: {base_url: "$MOCK", model: echo-q9, price_input: 100, price_output: 100}
  grader: {base_url: "$MOCK", model: grader, price_input: 1000, price_output: 2000}
  mute: {base_url: "$MOCK", model: mute-grader}
routes:
  judged:
    policy: cascade
    candidates: [cheap, mid, big]
    judge: {upstream: grader, rubric: "RUBRIC: grade the answer strictly", threshold: 7}
    budget: {window: daily, limit_usd: 1000}
  strict:
    policy: cascade
    candidates: [cheap, mid]
    judge: {upstream: grader, threshold: 9.5}
  mute_accept:
    policy: cascade
    candidates: [cheap, mid]
    judge: {upstream: mute, threshold: 7}
  mute_escalate:
    policy: cascade
    candidates: [cheap, mid]
    judge: {upstream: mute, threshold: 7, on_error: escalate}
router:
  decision_log: $tmp/decisions.jsonl
YAML
sy_start a --config "$tmp/config.yaml"
chat() { # $1 route, $2 request id; prints the status; headers in $tmp/h, body in $tmp/b
	curl -s -m 20 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' -H "x-request-id: $2" "$URL/v1/chat/completions" \
		-d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"what is 2+2\"}]}"
}
stats() { curl -s "http://127.0.0.1:$MPORT/stats"; }
calls() { stats | python3 -c "import json,sys; print(json.load(sys.stdin)['calls'].get(sys.argv[1], 0))" "$1"; }
logline() { python3 -c "
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get('request_id') == sys.argv[2]: print(l.strip())" "$tmp/decisions.jsonl" "$1"; }
# cheap scores 2 < 7: escalated to mid, which scores 8 and answers; big is never called
[ "$(chat judged j1)" = 200 ] || fail "judged: $(cat "$tmp/b")"
[ "$(hdr x-switchyard-model)" = mid ] || fail "judged answered by $(hdr x-switchyard-model)"
grep -q '\[echo-q8\] what is 2+2' "$tmp/b" || fail "judged body $(cat "$tmp/b")"
[ "$(hdr x-switchyard-judge)" = "cheap=2 mid=8 (threshold 7 of 10)" ] || fail "judge header: $(hdr x-switchyard-judge)"
[ "$(hdr x-switchyard-attempts)" = 2 ] || fail "attempts $(hdr x-switchyard-attempts)"
hdr x-switchyard-reason | grep -q "judge grader: cheap=2 mid=8" || fail "reason: $(hdr x-switchyard-reason)"
[ "$(calls grader)" = 2 ] && [ "$(calls echo-q9)" = 0 ] || fail "grader called $(calls grader), big $(calls echo-q9)"
# the rubric is the judge's system message; its user message holds the question and the answer
stats | python3 -c "
import json, sys
b = json.load(sys.stdin)['last_body']['grader']
m = b['messages']
assert m[0] == {'role': 'system', 'content': 'RUBRIC: grade the answer strictly'}, m[0]
assert 'QUESTION:\nwhat is 2+2' in m[1]['content'] and 'ANSWER TO GRADE:\n[echo-q8] what is 2+2' in m[1]['content'], m[1]
assert b['temperature'] == 0, b" || fail "the judge's request"
# the decision log: attempts with the judge's words, the grades, the judge's cost in the total
logline j1 | python3 -c "
import json, sys
d = json.loads(sys.stdin.read())
a = d['attempts']
assert a[0]['candidate'] == 'cheap' and a[0]['result'] == 'judge grader: score 2 < 7', a
assert a[1]['candidate'] == 'mid' and a[1]['result'] == 'judge grader: score 8 >= 7', a
j = d['judge']
assert j['upstream'] == 'grader' and j['threshold'] == 7 and j['scale'] == 10, j
assert j['scores'] == [{'candidate': 'cheap', 'score': 2}, {'candidate': 'mid', 'score': 8}], j
assert j['cost_usd'] > 0, j
answer = (d['prompt_tokens'] + d['completion_tokens']) * 10 / 1e6
assert abs(d['cost_usd'] - (answer + j['cost_usd'])) < 1e-7, (d['cost_usd'], answer, j['cost_usd'])
print('%.8f' % d['cost_usd'])" >"$tmp/cost1" || fail "decision log: $(logline j1)"
hcost=$(hdr x-switchyard-cost-usd)
[ "$hcost" = "$(cat "$tmp/cost1")" ] || fail "cost header $hcost, log $(cat "$tmp/cost1")"
# the route's budget was charged the judge too
curl -s "$URL/v1/routes" | python3 -c "
import json, sys
r = [r for r in json.load(sys.stdin)['data'] if r['name'] == 'judged'][0]
assert abs(r['budget']['spent_usd'] - float(sys.argv[1])) < 1e-6, (r['budget'], sys.argv[1])" "$hcost" || fail "budget spend"
m=$(curl -s "$URL/metrics")
echo "$m" | grep -q 'switchyard_router_judge_calls_total{route="judged",candidate="grader"} 2' || fail "judge_calls metric"
echo "$m" | grep -q "switchyard_router_judge_spend_usd_total{route=\"judged\",candidate=\"grader\"} 0\.[0-9]" || { echo "$m" | grep judge; fail "judge_spend metric"; }
echo "$m" | grep -q 'switchyard_router_escalations_total{route="judged",candidate="cheap"} 1' || fail "escalations metric"
# the last candidate is not judged: nothing is left to escalate to
[ "$(chat strict j2)" = 200 ] && [ "$(hdr x-switchyard-model)" = mid ] || fail "strict $(hdr x-switchyard-model)"
[ "$(hdr x-switchyard-judge)" = "cheap=2 (threshold 9.5 of 10)" ] || fail "strict judge header: $(hdr x-switchyard-judge)"
[ "$(calls grader)" = 3 ] || fail "the last candidate was judged"
# a reply without a score: accepted by default, escalated with on_error: escalate
[ "$(chat mute_accept j3)" = 200 ] && [ "$(hdr x-switchyard-model)" = cheap ] || fail "mute_accept $(hdr x-switchyard-model)"
[ "$(hdr x-switchyard-judge)" = "cheap=error (threshold 7 of 10)" ] || fail "mute header $(hdr x-switchyard-judge)"
logline j3 | grep -q '"result":"accepted; judge mute: no score in its reply"' || fail "mute log $(logline j3)"
[ "$(chat mute_escalate j4)" = 200 ] && [ "$(hdr x-switchyard-model)" = mid ] || fail "mute_escalate $(hdr x-switchyard-model)"
# the official openai client
(cd tests/compat && timeout 60 node openai_judge.mjs "$URL") || fail "openai npm client through a judged route"
# bad settings name their line
bad() { # $1: the judge line, $2: the message wanted
	sed "s#    judge: {upstream: grader, threshold: 9.5}#    judge: $1#" "$tmp/config.yaml" >"$tmp/bad.yaml"
	if timeout 30 "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "accepted: $1"; fi
	grep -q "$2" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "message for $1"; }
}
bad "{upstream: nobody, threshold: 7}" "line 16.*upstream.*must name an upstream"
bad "{upstream: grader}" "line 16.*needs threshold"
bad "{upstream: grader, threshold: 12}" "threshold must not exceed scale"
bad "{upstream: grader, threshold: 7, on_error: retry}" "on_error.*must be accept or escalate"
bad "{upstream: grader, threshold: 7, grade: 1}" "grade"
bad "{upstream: grader, threshold: 7}\\n    race: 2" "cannot race with a judge"
echo ok
