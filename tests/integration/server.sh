#!/usr/bin/env bash
# Integration test of `switchyard serve` (issue 5): starts the real server on random loopback
# ports with the committed fixtures and drives it with tests/integration/server_client.py
# (Python standard library): every route and error code, agreement with `switchyard encode`,
# the OpenAI shape and base64, concurrent clients, bad input with the server still serving,
# LRU eviction order under a small --memory-budget, auth, and SIGTERM while busy (the requests
# in progress complete and the process exits 0). Builds nothing; every server is bounded by
# `timeout` and killed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
PY=python3
CLIENT=tests/integration/server_client.py
[ -x "$SY" ] || { echo "FAIL: $SY is not built"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_server NAME ARGS...: starts a server on a free port, waits for its "listening" line and
# sets URL and PID.
start_server() {
	local name=$1
	shift
	# --foreground: a signal sent to timeout reaches the server once (without it, timeout
	# also signals its process group, and the busy test would see a second SIGTERM).
	timeout --foreground 60 "$SY" serve --host 127.0.0.1 --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	PID=$!
	pids+=("$PID")
	URL=
	for _ in $(seq 1 200); do
		URL=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/$name.out" 2>/dev/null || true)
		[ -n "$URL" ] && break
		kill -0 "$PID" 2>/dev/null || { cat "$tmp/$name.err"; fail "$name server exited"; }
		sleep 0.05
	done
	[ -n "$URL" ] || fail "$name server did not print its address"
	for _ in $(seq 1 100); do
		curl -sf "$URL/readyz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "$name server never became ready"
}

FX=tests/fixtures
MODELS=(--model "bert=$FX/bert-tiny" --model "roberta=$FX/roberta-tiny"
	--model "distil=$FX/distilbert-tiny")

# Reference vectors from the CLI for the same texts.
cat >"$tmp/texts.txt" <<'TXT'
hello world
Café déjà vu
The quick brown fox jumps over the lazy dog.
Switchyard serves small embedding models.
naïve façade — “quotes” and emoji 🚂
a
Numbers 1234 and symbols #$%&
Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.
TXT
"$SY" encode --model "$FX/bert-tiny" --input "$tmp/texts.txt" >"$tmp/cli.jsonl"

# 1. Routes, errors, limits, OpenAI, CLI agreement, concurrency.
start_server main "${MODELS[@]}" --model "nested/bert=$FX/bert-tiny" --model broken=/nonexistent \
	--max-items 64 --max-chars 2000 --max-body-bytes 1M --no-builtin-models
$PY "$CLIENT" basic "$URL" "$tmp/cli.jsonl" "$tmp/texts.txt"
sizes=$($PY "$CLIENT" sizes "$URL")
kill -TERM "$PID"
wait "$PID" || { cat "$tmp/main.err"; fail "main server exited with status $? after SIGTERM"; }

# 2. Eviction: a budget that fits the two largest models but not all three.
read -r b1 b2 b3 <<<"$(echo "$sizes" | tr ' ' '\n' | sort -rn | tr '\n' ' ')"
budget=$((b1 + b2 + b3 / 2))
echo "model bytes: $sizes; budget $budget"
start_server evict "${MODELS[@]}" --memory-budget "$budget" --no-builtin-models
$PY "$CLIENT" evict "$URL"

# 3. A model larger than the whole budget fails clearly.
start_server toobig "${MODELS[@]}" --memory-budget 64K --no-builtin-models
$PY "$CLIENT" toobig "$URL"

# 4. Auth: user and admin tokens from a key file.
printf '# keys\nuser-token-1\n\n  admin:admin-token-1  \n' >"$tmp/keys.txt"
mkdir -p "$tmp/broken-model"
echo '{not json' >"$tmp/broken-model/config.json"
start_server auth "${MODELS[@]}" --model "broken=$tmp/broken-model" \
	--api-key-file "$tmp/keys.txt" --no-builtin-models
$PY "$CLIENT" auth "$URL" user-token-1 admin-token-1

# 5. Back-pressure: a full queue and a model still loading answer 503 with Retry-After.
start_server pressure "${MODELS[@]}" --threads 1 --max-queue-items 100 --load-wait-ms 1 \
	--no-builtin-models
$PY "$CLIENT" pressure "$URL"

# 6. SIGTERM while busy: in-flight requests complete, then the process exits 0.
start_server busy "${MODELS[@]}" --threads 1 --max-queue-items 10000 --no-builtin-models
busy_pid=$PID
$PY "$CLIENT" busy "$URL" "$busy_pid"
set +e
wait "$busy_pid"
rc=$?
set -e
[ "$rc" -eq 0 ] || { cat "$tmp/busy.err"; fail "server exited with $rc after SIGTERM while busy"; }
grep -q "draining" "$tmp/busy.err" || fail "no drain message on stderr"

# 7. Config file: settings and catalogue from YAML, flags override the file.
cat >"$tmp/serve.yaml" <<YAML
host: 127.0.0.1
port: 1
max-items: 3
models:
  - id: from-yaml
    path: $FX/bert-tiny
    pinned: false
YAML
start_server yaml --config "$tmp/serve.yaml" --no-builtin-models
body='{"items":[{"text":"a"},{"text":"b"},{"text":"c"},{"text":"d"}]}'
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/encode/from-yaml" -d "$body")
[ "$code" = 413 ] || fail "max-items from the YAML file not applied ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/encode/from-yaml" -d '{"items":[{"text":"a"}]}')
[ "$code" = 200 ] || fail "model from the YAML file not served ($code)"
printf 'port: [1, 2]\n' >"$tmp/bad.yaml"
if "$SY" serve --config "$tmp/bad.yaml" >/dev/null 2>"$tmp/bad.err"; then
	fail "a bad config file was accepted"
fi
grep -q "bad.yaml: line 1: port" "$tmp/bad.err" || fail "bad config message: $(cat "$tmp/bad.err")"
echo "ok: server integration"
