#!/usr/bin/env bash
# The bad-input suite (tests/integration/bad_input.py) against a real server: malformed and
# hostile request bodies, huge arrays and strings, path traversal in model ids, corrupt and
# truncated model files, slow clients. Every case must answer a clear JSON 4xx/5xx within a
# bound, and the server must keep serving after each one.
. "$(dirname "$0")/lib/common.sh"
FX=tests/fixtures

# Broken models: garbage weights, weights cut short, a broken config.json, an empty folder.
m=$tmp/models
mkdir -p "$m/corrupt" "$m/truncated" "$m/badconfig" "$m/empty" "$m/fifo"
for d in corrupt truncated badconfig; do
	cp "$FX/bert-tiny/config.json" "$FX/bert-tiny/tokenizer.json" "$m/$d/"
done
head -c 100000 /dev/urandom >"$m/corrupt/model.safetensors"
head -c 300000 "$FX/bert-tiny/model.safetensors" >"$m/truncated/model.safetensors"
cp "$FX/bert-tiny/model.safetensors" "$m/badconfig/"
printf '{"model_type": "bert", "hidden_size": ' >"$m/badconfig/config.json"
# A FIFO named config.json: a load must fail at once, not block a request and shutdown for ever.
cp "$FX/bert-tiny/tokenizer.json" "$FX/bert-tiny/model.safetensors" "$m/fifo/"
mkfifo "$m/fifo/config.json"

SY_SERVER_TIMEOUT=300 sy_start serve --no-builtin-models --model "bert=$FX/bert-tiny" \
	--models-dir "$m" --idle-timeout 2 --max-connections 64
url=$URL
pid=$PID
python3 tests/integration/bad_input.py "$url" || { tail -20 "$tmp/serve.err"; fail "bad input"; }
kill -0 "$pid" || fail "the server died"
