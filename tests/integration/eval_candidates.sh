#!/usr/bin/env bash
# `switchyard eval candidates` against a scripted OpenAI-compatible upstream on loopback
# (tests/integration/lib/mock_llm.py, models quiz-P-MS and judge) whose candidates differ in
# accuracy, latency and price: the cheapest candidate meeting every threshold is chosen (not
# the cheapest, which is wrong too often, nor a cheaper one that is too slow), a step with no
# passing candidate chooses none, retries ride out a 429, the LLM judge grades a step and its
# cost is counted, --out writes the HTML report and the Prometheus textfile, a run against its
# own baseline exits 0 and a model change that breaks the chosen candidate exits 3, and bad
# suites fail naming the file, the line and the key.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")/v1
routes() { # $1: the model behind the candidate "mid"
	cat <<YAML
upstreams:
  cheap:   {base_url: "$MOCK", model: quiz-60-5,   price_input: 0.1, price_output: 0.2}
  mid:     {base_url: "$MOCK", model: $1,  price_input: 1,   price_output: 2}
  slow:    {base_url: "$MOCK", model: quiz-100-400, price_input: 0.5, price_output: 0.5}
  big:     {base_url: "$MOCK", model: quiz-100-5,  price_input: 10,  price_output: 30}
  limited: {base_url: "$MOCK", model: ratelimit,   price_input: 0.01, price_output: 0.01}
  grader:  {base_url: "$MOCK", model: judge,       price_input: 2,   price_output: 2}
routes:
  intent: {policy: static, candidates: [cheap, mid, big]}
YAML
}
routes quiz-90-5 >"$tmp/routes.yaml"
routes quiz-50-5 >"$tmp/routes_changed.yaml"
python3 - "$tmp" <<'PY'
import json, sys
words = ["apple", "river", "stone", "cloud", "tiger", "lemon", "piano", "ocean", "maple", "comet"]
with open(f"{sys.argv[1]}/intent.jsonl", "w") as f:
    for i, w in enumerate(words):
        f.write(json.dumps({"input": f"item {i}: say {w}", "expected": w}) + "\n")
with open(f"{sys.argv[1]}/chat.jsonl", "w") as f:
    for i, w in enumerate(words):
        f.write(json.dumps({"messages": [{"role": "system", "content": "be brief"},
                                         {"role": "user", "content": f"item {i}: say {w}"}],
                            "expected": w}) + "\n")
PY
cat >"$tmp/suite.yaml" <<'YAML'
concurrency: 4
retries: 1
steps:
  intent:
    data: intent.jsonl
    check: exact
    candidates: [cheap, mid, slow, big]
    prompt: "Answer with one word. {input}"
    params: {temperature: 0, max_tokens: 8}
    thresholds: {accuracy: 0.85, p95_ms: 300}
  impossible:
    data: intent.jsonl
    check: {type: contains, ignore_case: true}
    candidates: [cheap, big]
    thresholds: {accuracy: 0.95, cost_per_1k_usd: 0.01}
  graded:
    data: chat.jsonl
    check: {type: judge, upstream: grader, rubric: "Grade the answer.", scale: 10, threshold: 0.7}
    candidates: [cheap, big]
    thresholds: {accuracy: 0.8}
YAML
"$SY" eval candidates --config "$tmp/routes.yaml" --suite "$tmp/suite.yaml" --json --out "$tmp/out" \
	>"$tmp/r1.json" 2>"$tmp/r1.err" || { cat "$tmp/r1.err"; fail "eval candidates"; }
grep -q "eval candidates: step intent: chosen mid" "$tmp/r1.err" || { cat "$tmp/r1.err"; fail "progress lines"; }
python3 - "$tmp/r1.json" <<'PY' || fail "eval candidates results"
import json, sys
r = json.load(open(sys.argv[1]))["steps"]
c = r["intent"]["candidates"]
assert c["cheap"]["accuracy"] == 0.6 and not c["cheap"]["passed"], c["cheap"]
assert c["mid"]["accuracy"] == 0.9 and c["mid"]["passed"], c["mid"]
assert c["slow"]["accuracy"] == 1.0 and not c["slow"]["passed"] and c["slow"]["p95_ms"] >= 400, c["slow"]
assert "p95" in c["slow"]["why"], c["slow"]
assert c["big"]["passed"] and c["big"]["cost_usd"] > c["mid"]["cost_usd"] > c["slow"]["cost_usd"] > c["cheap"]["cost_usd"] > 0
for k in ("accuracy", "p50_ms", "p95_ms", "cost_usd", "passed"):
    assert k in c["mid"], k
# cost from usage and prices: tokens x price / 1e6
m = c["mid"]
assert abs(m["cost_usd"] - (m["prompt_tokens"] * 1 + m["completion_tokens"] * 2) / 1e6) < 1e-9, m
assert r["intent"]["chosen"] == "mid", r["intent"]
i = r["impossible"]
assert i["chosen"] is None and not any(x["passed"] for x in i["candidates"].values()), i
assert "accuracy" in i["candidates"]["cheap"]["why"] and "cost" in i["candidates"]["big"]["why"], i
g = r["graded"]["candidates"]
assert g["cheap"]["accuracy"] == 0.6 and g["big"]["accuracy"] == 1.0, g
assert r["graded"]["chosen"] == "big", r["graded"]
assert g["big"]["judge_cost_usd"] > 0 and g["big"]["cost_usd"] > g["big"]["judge_cost_usd"], g["big"]
assert g["big"]["calls"] == 20, g["big"]  # one answer and one judge call per example
PY
# the requests carried the prompt template and params
curl -s "$MOCK/../stats" | python3 -c '
import json, sys
b = json.load(sys.stdin)["last_body"]["quiz-90-5"]
assert b["temperature"] == 0 and b["max_tokens"] == 8, b
assert b["messages"][-1]["content"].startswith("Answer with one word. item"), b' || fail "prompt and params"
# the reports
[ -s "$tmp/out/report.json" ] || fail "report.json"
grep -q "<svg" "$tmp/out/report.html" || fail "HTML report has no chart"
grep -q "mid (chosen)" "$tmp/out/report.html" || fail "HTML report names the choice"
grep -q '^switchyard_eval_candidate_accuracy{step="intent",candidate="mid"} 0.9$' "$tmp/out/switchyard_eval.prom" || { cat "$tmp/out/switchyard_eval.prom"; fail "prometheus textfile"; }
grep -q '^switchyard_eval_step_chosen{step="intent",candidate="mid"} 1$' "$tmp/out/switchyard_eval.prom" || fail "prometheus chosen"
grep -q '^switchyard_eval_step_passing{step="impossible"} 0$' "$tmp/out/switchyard_eval.prom" || fail "prometheus passing"
# text output
"$SY" eval candidates --config "$tmp/routes.yaml" --suite "$tmp/suite.yaml" --quiet >"$tmp/text" 2>"$tmp/text.err" || fail "text run"
grep -q "step intent (10 examples): chosen mid" "$tmp/text" || { cat "$tmp/text"; fail "text report"; }
[ ! -s "$tmp/text.err" ] || { cat "$tmp/text.err"; fail "--quiet printed progress"; }
# the baseline: same models pass (exit 0); mid's model changed to a worse one: exit 3
cat >"$tmp/suite1.yaml" <<'YAML'
steps:
  intent:
    data: intent.jsonl
    check: exact
    candidates: [cheap, mid, big]
    thresholds: {accuracy: 0.85}
YAML
"$SY" eval candidates --config "$tmp/routes.yaml" --suite "$tmp/suite1.yaml" --json --quiet >"$tmp/base.json" || fail "baseline run"
"$SY" eval candidates --config "$tmp/routes.yaml" --suite "$tmp/suite1.yaml" --baseline "$tmp/base.json" --quiet >/dev/null || fail "no regression exits $?"
set +e
"$SY" eval candidates --config "$tmp/routes_changed.yaml" --suite "$tmp/suite1.yaml" --baseline "$tmp/base.json" --json --quiet >"$tmp/r3.json" 2>"$tmp/r3.err"
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$tmp/r3.err"; fail "regression exit code $rc, wanted 3"; }
grep -q "regression: step intent: mid, chosen in the baseline, no longer passes (accuracy 0.5000 < 0.8500)" "$tmp/r3.err" || { cat "$tmp/r3.err"; fail "regression message"; }
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["steps"]["intent"]["chosen"] == "big"' "$tmp/r3.json" || fail "re-chosen after the change"
# retries as routes do: the rate-limited upstream answers 429 + Retry-After: 1 every other call
cat >"$tmp/suite2.yaml" <<'YAML'
retries: 1
concurrency: 1
steps:
  echo:
    data: intent.jsonl
    check: contains
    candidates: [limited]
YAML
head -2 "$tmp/intent.jsonl" >"$tmp/two.jsonl"
sed -i 's/intent.jsonl/two.jsonl/' "$tmp/suite2.yaml"
"$SY" eval candidates --config "$tmp/routes.yaml" --suite "$tmp/suite2.yaml" --json --quiet >"$tmp/r4.json" || fail "retry run"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["steps"]["echo"]["candidates"]["limited"]
assert c["errors"] == 0 and c["accuracy"] == 1.0 and c["calls"] >= 3, c' "$tmp/r4.json" || { cat "$tmp/r4.json"; fail "retries on 429"; }
# bad suites: file, line, key
bad() { # $1: expected message fragment; suite text on stdin
	cat >"$tmp/bad.yaml"
	if "$SY" eval candidates --config "$tmp/routes.yaml" --suite "$tmp/bad.yaml" --quiet >/dev/null 2>"$tmp/bad.err"; then fail "bad suite accepted: $1"; fi
	grep -qF "$1" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "bad suite message: $1"; }
}
printf 'steps:\n  s:\n    data: intent.jsonl\n    check: exact\n    candidates: [cheap]\n    treshold: {accuracy: 1}\n' | bad "bad.yaml: line 6: treshold is not a step setting"
printf 'steps:\n  s:\n    data: intent.jsonl\n    check: fuzzy\n    candidates: [cheap]\n' | bad "bad.yaml: line 4: steps.s.check: unknown check 'fuzzy'"
printf 'steps:\n  s:\n    data: intent.jsonl\n    check: exact\n    candidates: [nobody]\n' | bad "steps.s.candidates: 'nobody' is not an upstream"
printf 'steps:\n  s:\n    data: intent.jsonl\n    check: exact\n    candidates: [cheap]\n    thresholds: {accuracy: 2}\n' | bad "bad.yaml: line 6: steps.s.thresholds.accuracy"
printf '{"input": "a", "expected": "a"}\n{"input": 5}\n' >"$tmp/bad.jsonl"
printf 'steps:\n  s:\n    data: bad.jsonl\n    check: exact\n    candidates: [cheap]\n' | bad "bad.jsonl: line 2"
printf 'steps:\n  s:\n    data: intent.jsonl\n    check: {type: regex, pattern: "("}\n    candidates: [cheap]\n' | bad "bad.yaml: line 4: steps.s.check.pattern"
echo ok
