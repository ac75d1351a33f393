#!/usr/bin/env bash
# The bad-input suite (tests/integration/bad_input.py) against a real server: malformed and
# hostile request bodies, huge arrays and strings, path traversal in model ids, corrupt and
# truncated model files, slow clients. Every case must answer a clear JSON 4xx/5xx within a
# bound, and the server must keep serving after each one.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
FX=tests/fixtures
[ -x "$SY" ] || { echo "FAIL: $SY is not built"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# Broken models: garbage weights, weights cut short, a broken config.json, an empty folder.
m=$tmp/models
mkdir -p "$m/corrupt" "$m/truncated" "$m/badconfig" "$m/empty"
for d in corrupt truncated badconfig; do
	cp "$FX/bert-tiny/config.json" "$FX/bert-tiny/tokenizer.json" "$m/$d/"
done
head -c 100000 /dev/urandom >"$m/corrupt/model.safetensors"
head -c 300000 "$FX/bert-tiny/model.safetensors" >"$m/truncated/model.safetensors"
cp "$FX/bert-tiny/model.safetensors" "$m/badconfig/"
printf '{"model_type": "bert", "hidden_size": ' >"$m/badconfig/config.json"

timeout --foreground 300 "$SY" serve --host 127.0.0.1 --port 0 --no-builtin-models \
	--model "bert=$FX/bert-tiny" --models-dir "$m" --idle-timeout 2 --max-connections 64 \
	>"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
url=
for _ in $(seq 1 200); do
	url=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/serve.out" 2>/dev/null || true)
	[ -n "$url" ] && break
	sleep 0.05
done
[ -n "$url" ] || { cat "$tmp/serve.err"; fail "server did not start"; }
python3 tests/integration/bad_input.py "$url" || { tail -20 "$tmp/serve.err"; fail "bad input"; }
kill -0 "$pid" || fail "the server died"
