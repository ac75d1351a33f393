#!/usr/bin/env bash
# CLI tests for `switchyard encode` and `switchyard models inspect` on the committed fixtures:
# output shape and order, agreement with the golden sentence embeddings, options, and clear
# errors with a non-zero exit for bad usage.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
fail() { echo "FAIL: $*"; exit 1; }

# 1. Two texts in, two lines out, in order, 64 dims each (bert-tiny: mean pooling + Normalize).
out=$("$SY" encode --model tests/fixtures/bert-tiny "hello world" "Café déjà vu")
[ "$(echo "$out" | wc -l)" = 2 ] || fail "expected 2 lines, got: $out"
python3 - "$out" <<'PY' || fail "bad encode output"
import json, sys, math
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
assert [l["index"] for l in lines] == [0, 1], lines
for l in lines:
    assert len(l["dense"]) == 64
    n = math.sqrt(sum(x * x for x in l["dense"]))
    assert abs(n - 1) < 1e-5, n
PY

# 2. Agreement with the reference: the golden texts through the CLI (--input, one per line)
#    match sentence_embedding of the goldens (cosine >= 0.99999) for every fixture.
for fx in bert-tiny roberta-tiny distilbert-tiny; do
	tmp=$(mktemp)
	python3 -c "import json,sys; print('\n'.join(json.load(open('tests/golden/$fx.json'))['texts']))" >"$tmp"
	"$SY" encode --model "tests/fixtures/$fx" --input "$tmp" >"$tmp.out"
	python3 - "$fx" "$tmp.out" <<'PY' || fail "$fx embeddings differ from the golden"
import json, struct, sys, math
fx, path = sys.argv[1], sys.argv[2]
raw = open(f"tests/golden/{fx}.safetensors", "rb").read()
hlen = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + hlen])
t = hdr["sentence_embedding"]
b, d = t["shape"]
s, e = t["data_offsets"]
vals = struct.unpack(f"<{b*d}f", raw[8 + hlen + s:8 + hlen + e])
got = [json.loads(l) for l in open(path)]
assert len(got) == b, (len(got), b)
worst = 1.0
for i, g in enumerate(got):
    assert g["index"] == i
    ref = vals[i * d:(i + 1) * d]
    v = g["dense"]
    assert len(v) == d, (len(v), d)
    dot = sum(x * y for x, y in zip(v, ref))
    cos = dot / (math.sqrt(sum(x * x for x in v)) * math.sqrt(sum(y * y for y in ref)))
    worst = min(worst, cos)
print(f"{fx}: {b} texts, min cosine {worst:.8f}")
assert worst >= 0.99999, worst
PY
	rm -f "$tmp" "$tmp.out"
done

# 2b. ModernBERT (modernbert-tiny: mean pooling, texts longer than its local window): the
#     golden texts through the CLI match sentence_embedding of tests/golden/modernbert-tiny.json.
tmp=$(mktemp)
python3 -c "import json; print('\n'.join(i['text'] for i in json.load(open('tests/golden/modernbert-tiny.json'))['items']))" >"$tmp"
"$SY" encode --model tests/fixtures/modernbert-tiny --input "$tmp" >"$tmp.out"
python3 - "$tmp.out" <<'PY' || fail "modernbert-tiny embeddings differ from the golden"
import json, sys, math
items = json.load(open("tests/golden/modernbert-tiny.json"))["items"]
got = [json.loads(l) for l in open(sys.argv[1])]
assert len(got) == len(items), (len(got), len(items))
worst = 1.0
for i, (g, it) in enumerate(zip(got, items)):
    assert g["index"] == i
    v, ref = g["dense"], it["sentence_embedding"]
    assert len(v) == len(ref)
    dot = sum(x * y for x, y in zip(v, ref))
    worst = min(worst, dot / (math.sqrt(sum(x * x for x in v)) * math.sqrt(sum(y * y for y in ref))))
print(f"modernbert-tiny: {len(got)} texts, min cosine {worst:.8f}")
assert worst >= 0.99999, worst
PY
rm -f "$tmp" "$tmp.out"

# 3. Options: --pooling max changes the vector; --no-normalize gives a non-unit vector.
a=$("$SY" encode --model tests/fixtures/bert-tiny --pooling max --no-normalize "hello world")
python3 -c "
import json,math,sys; v=json.loads(sys.argv[1])['dense']; n=math.sqrt(sum(x*x for x in v))
assert abs(n-1) > 1e-3, n" "$a" || fail "--no-normalize had no effect"

# 4. Bad usage: clear message on stderr, non-zero exit, nothing on stdout.
check_err() {
	local want=$1; shift
	set +e
	"$SY" "$@" >/tmp/sy-cli-out.$$ 2>/tmp/sy-cli-err.$$
	local rc=$?
	set -e
	[ $rc -ne 0 ] || fail "expected failure for: $*"
	[ ! -s /tmp/sy-cli-out.$$ ] || fail "stdout not empty for: $*"
	grep -q "$want" /tmp/sy-cli-err.$$ || fail "stderr lacks '$want' for: $* ($(cat /tmp/sy-cli-err.$$))"
	rm -f /tmp/sy-cli-out.$$ /tmp/sy-cli-err.$$
}
check_err "model is required" encode "text"
check_err "not a directory" encode --model /nonexistent "text"
check_err "pooling must be" encode --model tests/fixtures/bert-tiny --pooling median "x"
check_err "unknown command" frobnicate
check_err "no input" encode --model tests/fixtures/bert-tiny
check_err "cannot open" encode --model tests/fixtures/bert-tiny --input /nonexistent/file
check_err "quantize must be int8 or none" encode --model tests/fixtures/bert-tiny --quantize int4 "x"

# 5. --quantize int8 gives vectors close to fp32 (cosine >= 0.995) but not identical.
f=$("$SY" encode --model tests/fixtures/roberta-tiny "hello world" "Café déjà vu")
q=$("$SY" encode --model tests/fixtures/roberta-tiny --quantize int8 "hello world" "Café déjà vu")
python3 - "$f" "$q" <<'PY' || fail "int8 vectors"
import json, math, sys
f = [json.loads(l)["dense"] for l in sys.argv[1].splitlines()]
q = [json.loads(l)["dense"] for l in sys.argv[2].splitlines()]
assert len(f) == len(q) == 2
for a, b in zip(f, q):
    c = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    assert c >= 0.995, c
assert f != q, "int8 output identical to fp32"
PY

# 6. models inspect names the architecture.
"$SY" models inspect tests/fixtures/roberta-tiny | grep -qi roberta || fail "inspect lacks roberta"
echo "cli encode tests ok"
