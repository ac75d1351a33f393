#!/usr/bin/env bash
# Client libraries against a real server (with an API key): the Python SDK (clients/python,
# Debian's python3), the JavaScript SDK (clients/js, node) and the official `openai` and
# `cohere-ai` npm clients (tests/compat, installed by `make deps-node`): embeddings compared with
# `switchyard encode`, rerank with /v1/score; SIE's msgpack wire through `@msgpack/msgpack`.
. "$(dirname "$0")/lib/common.sh"

# Expected vectors from the CLI.
texts=("hello world" "Café déjà vu" "The quick brown fox jumps over the lazy dog.")
"$SY" encode --model tests/fixtures/bert-tiny "${texts[@]}" >"$tmp/cli.jsonl"
python3 - "$tmp/cli.jsonl" "$tmp/expect.json" "${texts[@]}" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"texts": sys.argv[3:], "dense": [r["dense"] for r in rows]}, open(sys.argv[2], "w"))
PY

printf 'sdk-token\n' >"$tmp/keys.txt"
sy_start serve --no-builtin-models --api-key-file "$tmp/keys.txt" \
	--model bert=tests/fixtures/bert-tiny --model roberta=tests/fixtures/roberta-tiny \
	--model ce=tests/fixtures/bert-ce-tiny --model clip=tests/fixtures/clip-tiny
url=$URL
export SY_URL="$url" SY_TOKEN=sdk-token SY_EXPECT="$tmp/expect.json"

python3 clients/python/tests/test_client.py >"$tmp/py.log" 2>&1 || { cat "$tmp/py.log"; fail "Python SDK"; }
grep -q "skipped" "$tmp/py.log" && { cat "$tmp/py.log"; fail "Python SDK tests skipped against a live server"; }
echo "ok: python SDK ($(grep -o 'Ran [0-9]* tests' "$tmp/py.log"))"

command -v node >/dev/null || fail "node is not installed"
node --test clients/js/test/ >"$tmp/js.log" 2>&1 || { cat "$tmp/js.log"; fail "JS SDK"; }
grep -q "^# skipped 0" "$tmp/js.log" || { cat "$tmp/js.log"; fail "JS SDK tests skipped"; }
echo "ok: js SDK ($(grep '^# pass' "$tmp/js.log"))"

if [ -d tests/compat/node_modules/openai ]; then
	(cd tests/compat && node openai_embeddings.mjs "$url" sdk-token "$SY_EXPECT") || fail "openai npm client"
	(cd tests/compat && node cohere_rerank.mjs "$url" sdk-token ce) || fail "cohere-ai npm client"
	[ -d tests/compat/node_modules/@msgpack/msgpack ] ||
		fail "tests/compat/node_modules/@msgpack/msgpack is missing: run \`make deps-node\`"
	(cd tests/compat && node sie_msgpack.mjs "$url" sdk-token "$SY_EXPECT") ||
		fail "SIE msgpack wire (@msgpack/msgpack)"
else
	fail "tests/compat/node_modules is missing: run \`make deps-node\` (npm install of the openai client)"
fi
