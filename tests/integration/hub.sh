#!/usr/bin/env bash
# Hugging Face Hub downloads against a stand-in Hub on loopback (tests/integration/fake_hub.py):
# `switchyard models pull` fills the standard cache layout (refs/, blobs/, snapshots/ links),
# skips files an encoder does not need, resumes an interrupted download with a Range request,
# checks the LFS sha256, reports 401/404 clearly, and the pulled id then works offline through
# `encode`, `models inspect|path` and `serve`. Every process is bounded by timeout and stopped.
. "$(dirname "$0")/lib/common.sh"
FX=tests/fixtures/bert-tiny

sy_bg timeout --foreground 120 python3 tests/integration/fake_hub.py "$FX" "$tmp/hub.log" \
	>"$tmp/hub.out" 2>"$tmp/hub.err"
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$tmp/hub.out" 2>/dev/null || true)
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { cat "$tmp/hub.err"; fail "the fake Hub did not start"; }

export HF_HOME="$tmp/hf" HF_ENDPOINT="http://127.0.0.1:$port"
unset HF_HUB_CACHE HF_TOKEN HF_HUB_OFFLINE || true
cache="$tmp/hf/hub"
commit=0123456789abcdef0123456789abcdef01234567
n=0
ok() { n=$((n + 1)); }

# 1. A pull interrupted midway fails with a message that says how to resume; the next pull
#    resumes with a Range request and the blob matches the original byte for byte.
if "$SY" models pull sy-test/flaky --quiet >"$tmp/out" 2>"$tmp/err"; then
	fail "the interrupted pull succeeded"
fi
grep -q "again to resume" "$tmp/err" || fail "no resume hint: $(cat "$tmp/err")"
ls "$cache"/models--sy-test--flaky/blobs/*.incomplete >/dev/null 2>&1 || fail "no partial file kept"
ok
dir=$("$SY" models pull sy-test/flaky --quiet) || fail "the resumed pull failed"
grep -q "range=bytes=65536-" "$tmp/hub.log" || fail "the second pull did not resume: $(cat "$tmp/hub.log")"
cmp "$dir/model.safetensors" "$FX/model.safetensors" || fail "resumed weights differ"
ok

# 2. The cache layout, as huggingface_hub writes it.
dir=$("$SY" models pull sy-test/bert-tiny --quiet) || fail "pull failed"
repo="$cache/models--sy-test--bert-tiny"
[ "$dir" = "$repo/snapshots/$commit" ] || fail "snapshot dir $dir"
[ "$(cat "$repo/refs/main")" = "$commit" ] || fail "refs/main"
sha=$(sha256sum "$FX/model.safetensors" | cut -d' ' -f1)
[ "$(readlink "$dir/model.safetensors")" = "../../blobs/$sha" ] || fail "weights link $(readlink "$dir/model.safetensors")"
[ "$(readlink "$dir/1_Pooling/config.json" | cut -c1-15)" = "../../../blobs/" ] || fail "module link"
for f in config.json tokenizer.json vocab.txt modules.json 1_Pooling/config.json; do
	cmp "$dir/$f" "$FX/$f" || fail "$f differs"
done
for f in pytorch_model.bin README.md onnx/model.onnx; do
	[ ! -e "$dir/$f" ] || fail "$f should not be downloaded"
done
ls "$repo"/blobs/*.incomplete >/dev/null 2>&1 && fail "partial files left"
ok

# 3. A second pull downloads nothing (only the listing and HEAD requests).
before=$(grep -c "^GET /sy-test/bert-tiny/resolve\|^GET /lfs/" "$tmp/hub.log" || true)
"$SY" models pull sy-test/bert-tiny --quiet >/dev/null || fail "second pull failed"
after=$(grep -c "^GET /sy-test/bert-tiny/resolve\|^GET /lfs/" "$tmp/hub.log" || true)
[ "$before" = "$after" ] || fail "cached files were downloaded again ($before -> $after)"
ok

# 4. Offline: the pulled id works by name and gives the same vectors as the directory.
export HF_HUB_OFFLINE=1
a=$("$SY" encode --model sy-test/bert-tiny "hello world" "Café déjà vu")
b=$("$SY" encode --model "$FX" "hello world" "Café déjà vu")
[ "$a" = "$b" ] || fail "Hub id and directory give different vectors"
[ "$("$SY" models path sy-test/bert-tiny)" = "$dir" ] || fail "models path"
"$SY" models inspect sy-test/bert-tiny | grep -qi "bert" || fail "models inspect by id"
if "$SY" models pull sy-test/other --quiet 2>"$tmp/err"; then fail "offline pull of an uncached id"; fi
grep -q "offline" "$tmp/err" && grep -q "models pull" "$tmp/err" || fail "offline message: $(cat "$tmp/err")"
if "$SY" encode --model sy-test/other "x" 2>"$tmp/err"; then fail "offline encode of an uncached id"; fi
grep -q "not in the Hugging Face cache" "$tmp/err" || fail "offline encode message: $(cat "$tmp/err")"
ok

# 5. serve --model ID loads it from the cache.
sy_start serve --no-builtin-models --model sy-test/bert-tiny
url=$URL
code=$(curl -s -o "$tmp/enc.json" -w '%{http_code}' "$url/v1/encode/sy-test/bert-tiny" \
	-d '{"items":[{"text":"hello world"}]}')
[ "$code" = 200 ] || fail "encode through serve: $code $(cat "$tmp/enc.json")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["items"][0]["dense"]["dims"]==64' \
	"$tmp/enc.json" || fail "served vector"
ok
unset HF_HUB_OFFLINE

# 6. Errors: gated without and with a token, a missing repository, a bad checksum, bad ids.
if "$SY" models pull sy-test/private --quiet 2>"$tmp/err"; then fail "private pull without a token"; fi
grep -q "401" "$tmp/err" && grep -q "HF_TOKEN" "$tmp/err" || fail "401 message: $(cat "$tmp/err")"
HF_TOKEN=sy-secret "$SY" models pull sy-test/private --quiet >/dev/null || fail "pull with HF_TOKEN"
if "$SY" models pull sy-test/nope --quiet 2>"$tmp/err"; then fail "missing repository"; fi
grep -q "404" "$tmp/err" || fail "404 message: $(cat "$tmp/err")"
if "$SY" models pull sy-test/corrupt --quiet 2>"$tmp/err"; then fail "corrupt download accepted"; fi
grep -q "SHA-256" "$tmp/err" || fail "checksum message: $(cat "$tmp/err")"
ls "$cache"/models--sy-test--corrupt/blobs/ffffffff* >/dev/null 2>&1 && fail "corrupt blob kept"
for bad in "../../etc" "/etc/passwd" "a/b/c" "sy-test/..x" "--x"; do
	if "$SY" models pull "$bad" --quiet 2>"$tmp/err"; then fail "bad id $bad accepted"; fi
	grep -q "not a Hugging Face model id\|unexpected argument\|unknown option" "$tmp/err" || fail "bad id $bad: $(cat "$tmp/err")"
done
ok
echo "ok: hub: $n groups"
