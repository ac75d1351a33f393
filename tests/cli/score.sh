#!/usr/bin/env bash
# CLI tests for `switchyard score`: scores equal to the reference goldens for both cross-encoder
# fixtures, input order kept, documents from --input, and clear errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in bert-ce-tiny xlmr-ce-tiny; do
	python3 - "$SY" "$name" "$tmp" <<'PY' || fail "$name scores"
import json, subprocess, sys
sy, name, tmp = sys.argv[1:4]
g = json.load(open(f"tests/golden/{name}.json"))
q = g["pairs"][0]["query"]
docs = [p["document"] for p in g["pairs"] if p["query"] == q]
want = [p["score"] for p in g["pairs"] if p["query"] == q]
out = subprocess.run([sy, "score", "--model", f"tests/fixtures/{name}", "--query", q] + docs,
                     check=True, capture_output=True, text=True).stdout
rows = [json.loads(l) for l in out.splitlines()]
assert [r["index"] for r in rows] == list(range(len(docs))), rows
assert all(abs(r["score"] - w) < 1e-5 for r, w in zip(rows, want)), (rows, want)
open(f"{tmp}/docs.txt", "w").write("\n".join(docs) + "\n")
out2 = subprocess.run([sy, "score", "--model", f"tests/fixtures/{name}", "--query", q, "--input",
                       f"{tmp}/docs.txt"], check=True, capture_output=True, text=True).stdout
assert out2 == out, (out2, out)
PY
done
check_err() {
	local want=$1
	shift
	if "$SY" "$@" >"$tmp/o" 2>"$tmp/e"; then fail "expected failure: $*"; fi
	grep -q "$want" "$tmp/e" || fail "stderr lacks '$want' for: $* ($(cat "$tmp/e"))"
}
check_err "not a cross-encoder" score --model tests/fixtures/bert-tiny --query q d
check_err "are required" score --model tests/fixtures/bert-ce-tiny d
check_err "no documents" score --model tests/fixtures/bert-ce-tiny --query q
check_err "cannot open" score --model tests/fixtures/bert-ce-tiny --query q --input /nonexistent
check_err "quantize must be" score --model tests/fixtures/bert-ce-tiny --query q --quantize x d
echo "cli score tests ok"
