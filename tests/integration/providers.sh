#!/usr/bin/env bash
# Upstreams of kind anthropic and gemini over HTTP against the scripted upstream
# (tests/integration/lib/mock_llm.py speaks both wire formats): the request translated (system,
# max_tokens, stop, temperature, tools; the key in x-api-key with anthropic-version, or in
# x-goog-api-key), answers, streams, tool calls and usage translated back (cost in the headers
# and the decision log), provider errors as 502 naming their message, a 529/503 falling back to
# the next candidate, streams cut or ended by an error event, and the official `openai` npm
# client in front (tests/compat/openai_providers.mjs).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_bg python3 tests/integration/lib/mock_llm.py "$tmp/mock.port"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
BASE=http://127.0.0.1:$(cat "$tmp/mock.port")
A="kind: anthropic, base_url: \"$BASE/anthropic/v1\", api_key_env: SY_TEST_ANTHROPIC_KEY, price_input: 3, price_output: 15"
G="kind: gemini, base_url: \"$BASE/gemini/v1beta\", api_key_env: SY_TEST_GEMINI_KEY, price_input: 0.3, price_output: 2.5"
cat >"$tmp/config.yaml" <<YAML
upstreams:
  claude:     {$A, model: echo-claude}
  claudetool: {$A, model: tool}
  claudebad:  {$A, model: badreq}
  claudefail: {$A, model: fail}
  claudecut:  {$A, model: streamcut}
  claudeerr:  {$A, model: streamerr}
  claudenokey: {kind: anthropic, base_url: "$BASE/anthropic/v1", model: echo-nokey}
  gem:        {$G, model: echo-gem}
  gemtool:    {$G, model: tool}
  gembad:     {$G, model: badreq}
  gemfail:    {$G, model: fail}
  gemcut:     {$G, model: streamcut}
routes:
  claude: {policy: static, candidates: [claude]}
  claude-tool: {policy: static, candidates: [claudetool]}
  claude-bad: {policy: static, candidates: [claudebad]}
  claude-cut: {policy: static, candidates: [claudecut]}
  claude-err: {policy: static, candidates: [claudeerr]}
  claude-nokey: {policy: static, candidates: [claudenokey]}
  gem: {policy: static, candidates: [gem]}
  gem-tool: {policy: static, candidates: [gemtool]}
  gem-bad: {policy: static, candidates: [gembad]}
  gem-cut: {policy: static, candidates: [gemcut]}
  spill: {policy: static, candidates: [claudefail, gemfail, gem]}
  mixed: {policy: cascade, candidates: [gem, claude], verifier: {regex: "echo-claude"}}
router:
  decision_log: $tmp/decisions.jsonl
YAML
export SY_TEST_ANTHROPIC_KEY=k-anthropic SY_TEST_GEMINI_KEY=k-gemini
sy_start srv --config "$tmp/config.yaml"
chat() { # $1 route, $2 extra JSON fields; prints the status; headers in $tmp/h, body in $tmp/b
	curl -s -m 20 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$URL/v1/chat/completions" \
		-d "{\"model\":\"$1\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"},{\"role\":\"user\",\"content\":\"hello there\"}]${2:-}}"
}
stats() { curl -s "$BASE/stats"; }

# non-streamed, both kinds, with the translated requests checked
for r in claude gem; do
	[ "$(chat $r ',"temperature":0.3,"stop":"END","max_tokens":64')" = 200 ] || { cat "$tmp/b"; fail "$r"; }
	python3 - "$r" "$tmp/b" <<'PY' || fail "$r answer"
import json, sys
r, d = sys.argv[1], json.load(open(sys.argv[2]))
m = {"claude": "echo-claude", "gem": "echo-gem"}[r]
assert d["object"] == "chat.completion", d
assert d["choices"][0]["message"] == {"role": "assistant", "content": f"[{m}] hello there"}, d
assert d["choices"][0]["finish_reason"] == "stop", d
u = d["usage"]
assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], u
PY
	[ "$(hdr x-switchyard-model)" = "$r" ] || fail "$r model header"
	python3 -c "import sys; assert float(sys.argv[1]) > 0" "$(hdr x-switchyard-cost-usd)" || fail "$r cost header"
done
stats | python3 -c '
import json, sys
s = json.load(sys.stdin)["last_body"]
a = s["anthropic:echo-claude"]
assert a["system"] == "be brief" and a["max_tokens"] == 64 and a["temperature"] == 0.3, a
assert a["stop_sequences"] == ["END"] and "stream" not in a, a
assert [m["role"] for m in a["messages"]] == ["user", "assistant", "user"], a
assert a["messages"][2]["content"] == "hello there", a
g = s["gemini:echo-gem"]
assert g["systemInstruction"] == {"parts": [{"text": "be brief"}]}, g
assert g["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 64, "stopSequences": ["END"]}, g
assert [c["role"] for c in g["contents"]] == ["user", "model", "user"], g
assert g["contents"][2]["parts"] == [{"text": "hello there"}], g' || fail "translated requests"
# max_tokens is required by Anthropic: 4096 when the client gave none
[ "$(chat claude)" = 200 ] || fail "claude without max_tokens"
stats | python3 -c 'import json,sys; assert json.load(sys.stdin)["last_body"]["anthropic:echo-claude"]["max_tokens"] == 4096' || fail "default max_tokens"

# streamed: OpenAI chunks, [DONE], usage in the last chunk and the decision log
for r in claude gem; do
	[ "$(chat $r ',"stream":true')" = 200 ] || { cat "$tmp/b"; fail "$r stream"; }
	python3 - "$r" "$tmp/b" <<'PY' || { cat "$tmp/b"; fail "$r stream body"; }
import json, sys
r, raw = sys.argv[1], open(sys.argv[2]).read()
m = {"claude": "echo-claude", "gem": "echo-gem"}[r]
events = [l[6:] for l in raw.split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]", events[-3:]
chunks = [json.loads(e) for e in events[:-1]]
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
assert text == f"[{m}] hello there", text
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
fin = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
assert fin == ["stop"], fin
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0, chunks[-1]
PY
	tail -1 "$tmp/decisions.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["status"] == 200 and d["prompt_tokens"] > 0 and d["completion_tokens"] > 0 and d["cost_usd"] > 0, d
assert "error" not in d, d' || fail "$r stream decision log"
done

# tools: translated out (input_schema / functionDeclarations) and tool calls back
tools='"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"required"'
[ "$(chat claude-tool ",$tools")" = 200 ] || { cat "$tmp/b"; fail "claude tool"; }
grep -q '"tool_calls":\[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"}}\]' "$tmp/b" || { cat "$tmp/b"; fail "claude tool call"; }
grep -q '"finish_reason":"tool_calls"' "$tmp/b" || fail "claude tool finish"
[ "$(chat gem-tool ",$tools")" = 200 ] || { cat "$tmp/b"; fail "gem tool"; }
grep -q '"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"' "$tmp/b" || { cat "$tmp/b"; fail "gem tool call"; }
stats | python3 -c '
import json, sys
s = json.load(sys.stdin)["last_body"]
a = s["anthropic:tool"]
assert a["tools"] == [{"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}], a
assert a["tool_choice"] == {"type": "any"}, a
g = s["gemini:tool"]
assert g["tools"] == [{"functionDeclarations": [{"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}], g
assert g["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}, g' || fail "translated tools"
# a tool result going back: tool_result block / functionResponse
curl -s -m 20 -o "$tmp/b" "$URL/v1/chat/completions" -d '{"model":"claude","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"toolu_1","content":"sunny"}]}'
stats | python3 -c '
import json, sys
a = json.load(sys.stdin)["last_body"]["anthropic:echo-claude"]["messages"]
assert a[1] == {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]}, a
assert a[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}, a' || fail "tool result to anthropic"
curl -s -m 20 -o "$tmp/b" "$URL/v1/chat/completions" -d '{"model":"gem","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}]}'
stats | python3 -c '
import json, sys
g = json.load(sys.stdin)["last_body"]["gemini:echo-gem"]["contents"]
assert g[1] == {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]}, g
assert g[2] == {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"content": "sunny"}}}]}, g' || fail "tool result to gemini"

# errors: a refusal names the provider's message; an overloaded provider falls back
[ "$(chat claude-bad)" = 502 ] || fail "claude 400 not 502"
grep -q 'HTTP 400: invalid_request_error: messages: roles must alternate' "$tmp/b" || { cat "$tmp/b"; fail "claude error message"; }
[ "$(chat gem-bad)" = 502 ] || fail "gem 400 not 502"
grep -q 'HTTP 400: INVALID_ARGUMENT: Invalid JSON payload' "$tmp/b" || { cat "$tmp/b"; fail "gem error message"; }
[ "$(chat claude-nokey)" = 502 ] || fail "claude without a key"
tail -1 "$tmp/decisions.jsonl" | grep -q '"status":401' || fail "the 401 in the log"
[ "$(chat spill)" = 200 ] || { cat "$tmp/b"; fail "spill"; }
[ "$(hdr x-switchyard-model)" = gem ] || fail "spill answered by $(hdr x-switchyard-model)"
tail -1 "$tmp/decisions.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert [(a["candidate"], a["status"]) for a in d["attempts"]] == [("claudefail", 529), ("gemfail", 503), ("gem", 200)], d' || fail "spill attempts"
# a cascade across kinds: gemini fails the verifier, anthropic passes
[ "$(chat mixed ',"stream":true')" = 200 ] || fail "mixed"
grep -q 'echo-claude' "$tmp/b" && grep -q '\[DONE\]' "$tmp/b" || { cat "$tmp/b"; fail "mixed cascade"; }

# streams that break off: cut, or an Anthropic error event
for r in claude-cut gem-cut claude-err; do
	[ "$(chat $r ',"stream":true')" = 200 ] || fail "$r status"
	grep -q '"code":"UPSTREAM_ERROR"' "$tmp/b" || { cat "$tmp/b"; fail "$r: no error event"; }
	! grep -q '\[DONE\]' "$tmp/b" || fail "$r ended with [DONE]"
	tail -1 "$tmp/decisions.jsonl" | grep -q '"result":"stream broke off' || { tail -1 "$tmp/decisions.jsonl"; fail "$r log"; }
done
grep -q 'overloaded_error: Overloaded' "$tmp/b" || { cat "$tmp/b"; fail "claude-err message"; }

# images, n, seed and response_format (tests/test_upstream.c has the edge cases)
post() { # $1 JSON body; prints the status; body in $tmp/b
	curl -s -m 20 -o "$tmp/b" -w '%{http_code}' "$URL/v1/chat/completions" -d "$1"
}
PNG=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==
IMG="{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,$PNG\"}},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.webp\"}}]}"
for r in claude gem; do
	[ "$(post "{\"model\":\"$r\",\"messages\":[$IMG]}")" = 200 ] || { cat "$tmp/b"; fail "$r image"; }
done
stats | python3 -c '
import json, sys
png = sys.argv[1]
s = json.load(sys.stdin)["last_body"]
a = s["anthropic:echo-claude"]["messages"]
assert a == [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.webp"}}]}], a
g = s["gemini:echo-gem"]["contents"]
assert g == [{"role": "user", "parts": [{"text": "what is this?"},
    {"inlineData": {"mimeType": "image/png", "data": png}},
    {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}}]}], g' "$PNG" || fail "translated images"
# gemini: seed, candidateCount (choices back), JSON with a translated schema
SCHEMA='{"type":"object","properties":{"city":{"type":"string","description":"a city"},"pop":{"type":["integer","null"]}},"required":["city"],"additionalProperties":false}'
RF="\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"place\",\"strict\":true,\"schema\":$SCHEMA}}"
[ "$(chat gem ",\"seed\":42,\"n\":2,$RF")" = 200 ] || { cat "$tmp/b"; fail "gem n/seed/json"; }
python3 - "$tmp/b" <<'PY' || { cat "$tmp/b"; fail "gem choices"; }
import json, sys
d = json.load(open(sys.argv[1]))
c = d["choices"]
assert [x["index"] for x in c] == [0, 1], c
assert json.loads(c[0]["message"]["content"]) == {"city": "Paris"}, c
assert c[1]["message"]["content"].endswith(" #1") and all(x["finish_reason"] == "stop" for x in c), c
PY
stats | python3 -c '
import json, sys
g = json.load(sys.stdin)["last_body"]["gemini:echo-gem"]["generationConfig"]
assert g == {"candidateCount": 2, "seed": 42, "responseMimeType": "application/json",
    "responseSchema": {"type": "OBJECT", "properties": {"city": {"type": "STRING", "description": "a city"},
    "pop": {"type": "INTEGER", "nullable": True}}, "required": ["city"]}}, g' || fail "gemini generationConfig"
[ "$(chat gem ',"n":2,"stream":true')" = 200 ] || fail "gem n stream"
python3 - "$tmp/b" <<'PY' || { cat "$tmp/b"; fail "gem n stream body"; }
import json, sys
raw = open(sys.argv[1]).read()
events = [l[6:] for l in raw.split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]", events[-3:]
text, fin = {}, {}
for e in events[:-1]:
    for c in json.loads(e)["choices"]:
        text[c["index"]] = text.get(c["index"], "") + c["delta"].get("content", "")
        if c["finish_reason"]:
            fin[c["index"]] = c["finish_reason"]
assert text == {0: "[echo-gem] hello there", 1: "[echo-gem] hello there #1"}, text
assert fin == {0: "stop", 1: "stop"}, fin
PY
# anthropic: JSON through a forced tool whose input is the content
for s in false true; do
	[ "$(chat claude ",$RF,\"stream\":$s")" = 200 ] || { cat "$tmp/b"; fail "claude json stream=$s"; }
	python3 - "$tmp/b" $s <<'PY' || { cat "$tmp/b"; fail "claude json answer stream=$2"; }
import json, sys
raw, stream = open(sys.argv[1]).read(), sys.argv[2] == "true"
if stream:
    chunks = [json.loads(l[6:]) for l in raw.split("\n") if l.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    fin = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"]), raw
else:
    d = json.loads(raw)
    text, fin = d["choices"][0]["message"]["content"], [d["choices"][0]["finish_reason"]]
    assert "tool_calls" not in d["choices"][0]["message"], d
assert json.loads(text) == {"city": "Paris"} and fin == ["stop"], (text, fin)
PY
done
stats | python3 -c '
import json, sys
schema = json.loads(sys.argv[1])
a = json.load(sys.stdin)["last_body"]["anthropic:echo-claude"]
assert a["tools"] == [{"name": "switchyard_json", "description": "Give your whole answer as this tool'"'"'s input: a JSON object (place) matching its schema.", "input_schema": schema}], a
assert a["tool_choice"] == {"type": "tool", "name": "switchyard_json"}, a' "$SCHEMA" || fail "anthropic forced tool"
# what a provider cannot take: 400 naming the field, nothing sent, the server still serving
calls_before=$(stats | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["calls"].values()))')
bad() { # $1 route, $2 extra fields or a whole messages value, $3 expected text
	local code msgs='[{"role":"user","content":"hi"}]'
	[ -z "${4:-}" ] || msgs=$4
	code=$(post "{\"model\":\"$1\",\"messages\":$msgs$2}")
	[ "$code" = 400 ] || { cat "$tmp/b"; fail "$1 $3: $code, not 400"; }
	grep -qF -- "$3" "$tmp/b" || { cat "$tmp/b"; fail "$1: no \"$3\""; }
}
BADIMG='[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"data:image/png;base64,not base64!"}}]}]'
for r in claude gem; do
	bad $r '' 'messages[1].content[1]: image_url.url is not a base64 data URL' "$BADIMG"
	bad $r ',"stream":true' 'messages[1].content[1]: image_url.url is not a base64 data URL' "$BADIMG"
done
bad claude ',"seed":7' 'cannot take this request: seed: anthropic upstreams take no seed'
bad claude ',"n":2' 'n: anthropic upstreams give one choice per request'
bad claude ",$RF,$tools" 'response_format: anthropic upstreams answer in JSON through a forced tool call'
bad gem ',"n":9' 'n: expected a whole number from 1 to 8'
bad gem ',"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"$ref":"#/$defs/A"}}}}}' \
	'response_format.json_schema.schema.properties.a: keyword $ref is not supported by gemini'
[ "$(stats | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["calls"].values()))')" = "$calls_before" ] || fail "a refused request reached the provider"
tail -1 "$tmp/decisions.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["status"] == 400 and d["attempts"][0]["status"] == 400 and d["attempts"][0]["result"].startswith("not sent: response_format"), d' || { tail -1 "$tmp/decisions.jsonl"; fail "400 in the log"; }
[ "$(chat claude)" = 200 ] && [ "$(chat gem)" = 200 ] || fail "serving after the refusals"

# a bad kind in the config names the line
sed 's/kind: gemini, base_url/kind: vertex, base_url/' "$tmp/config.yaml" >"$tmp/bad.yaml"
if "$SY" serve --host 127.0.0.1 --port 0 --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err"; then fail "kind vertex accepted"; fi
grep -q "bad.yaml: line [0-9]*: kind must be openai, anthropic or gemini" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "bad kind message"; }

# the official openai npm client in front
[ -d tests/compat/node_modules/openai ] || fail "tests/compat/node_modules is missing: run \`make deps-node\`"
(cd tests/compat && timeout 60 node openai_providers.mjs "$URL") || fail "openai npm client through anthropic and gemini upstreams"
echo ok
