#!/usr/bin/env bash
# Runtime kernel dispatch (src/tensor/isa.c) through the whole CLI:
#   1. SWITCHYARD_ISA=portable gives the same embeddings as the default path (cosine >= 0.9999),
#      and the int8 embeddings of every path the CPU runs (avx512, avx2, portable) agree alike;
#   2. an unknown SWITCHYARD_ISA is refused with a clear message and exit status 2;
#   3. under qemu-x86_64 -cpu Nehalem (no AVX, AVX2, FMA or F16C; Debian's qemu-user, `make deps`)
#      the binary runs the portable path and matches the native output, the tensor tests pass
#      there, and SWITCHYARD_ISA=avx2 is refused with a clear message. Skipped, with a message,
#      when qemu-x86_64 is absent, off x86-64, or for sanitizer builds (ASan does not run under
#      qemu-user).
# Models: tests/fixtures/bert-tiny, and USE-lite when ../shared/models/use-lite exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
SY=$B/switchyard
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

models=(tests/fixtures/bert-tiny)
if [ -d "${SY_SHARED:-../shared}/models/use-lite" ]; then
	models+=(use-lite)
else
	echo "  (no ${SY_SHARED:-../shared}/models/use-lite: USE-lite not checked)"
fi
texts=("hello" "Café déjà vu, a second text" "a third, longer text about trains and timetables")

# Cosine of each line of $1 against the same line of $2 (JSON lines with "dense").
compare() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, math, sys
a = [json.loads(l)["dense"] for l in open(sys.argv[1])]
b = [json.loads(l)["dense"] for l in open(sys.argv[2])]
assert len(a) == len(b) and a, (len(a), len(b))
worst = 1.0
for u, v in zip(a, b):
    assert len(u) == len(v)
    c = sum(x * y for x, y in zip(u, v)) / math.sqrt(sum(x * x for x in u) * sum(y * y for y in v))
    worst = min(worst, c)
print(f"  {sys.argv[3]}: {len(a)} texts, min cosine {worst:.8f}")
assert worst >= 0.9999, worst
PY
}

# 1. The portable path natively.
for m in "${models[@]}"; do
	n=${m##*/}
	"$SY" encode --model "$m" "${texts[@]}" >"$tmp/$n.native"
	SWITCHYARD_ISA=portable "$SY" encode --model "$m" "${texts[@]}" >"$tmp/$n.portable"
	compare "$tmp/$n.native" "$tmp/$n.portable" "$n, SWITCHYARD_ISA=portable vs default" ||
		fail "$n: the portable path differs from the default"
done
SWITCHYARD_ISA=auto "$SY" encode --model tests/fixtures/bert-tiny "hello" >/dev/null ||
	fail "SWITCHYARD_ISA=auto refused"
# The int8 GEMM per path (AVX-512 VNNI, AVX2, portable) where the CPU has it: the integer sums are
# exact on every path, so the int8 embeddings agree as closely as the fp32 ones.
for isa in avx512 avx2 portable; do
	if ! SWITCHYARD_ISA=$isa "$SY" encode --quantize int8 --model tests/fixtures/bert-tiny "${texts[@]}" \
		>"$tmp/int8.$isa" 2>"$tmp/err"; then
		grep -q "cannot run the $isa kernels" "$tmp/err" || fail "int8 on $isa: $(cat "$tmp/err")"
		echo "  int8 on $isa: not supported by this CPU, skipped"
		rm -f "$tmp/int8.$isa"
	fi
done
for isa in avx2 portable; do
	[ -f "$tmp/int8.avx512" ] && [ -f "$tmp/int8.$isa" ] || continue
	compare "$tmp/int8.avx512" "$tmp/int8.$isa" "bert-tiny int8, avx512 vs $isa" ||
		fail "the int8 embeddings of the avx512 and $isa paths differ"
done

# 2. An unknown path, and a bad bf16-attention switch: exit 2, the message, no output.
refused() { # $1 VAR=VALUE, $2 what stderr must say
	set +e
	env "$1" "$SY" encode --model tests/fixtures/bert-tiny "hello" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	set -e
	[ $rc -eq 2 ] || fail "$1 should exit 2, got $rc"
	grep -q "$2" "$tmp/err" || fail "$1: message: $(cat "$tmp/err")"
	[ ! -s "$tmp/out" ] || fail "output despite a refused $1"
}
refused SWITCHYARD_ISA=avx9000 "SWITCHYARD_ISA=avx9000: unknown kernel path"
refused SWITCHYARD_ATTENTION_BF16=yes "SWITCHYARD_ATTENTION_BF16=yes: expected 0"

# 3. A CPU without AVX2 (or anything newer than SSE4.2), emulated.
if ! command -v qemu-x86_64 >/dev/null; then
	echo "  SKIP: qemu-x86_64 not installed (apt-get install qemu-user, or make deps): the no-AVX2 run is not checked"
	echo "isa tests ok (without qemu)"
	exit 0
fi
case $(uname -m) in x86_64) ;; *)
	echo "  SKIP: not an x86-64 host"
	exit 0
	;;
esac
syms=$(nm "$B/libswitchyard.a" 2>/dev/null || true) # not nm | grep -q: pipefail and SIGPIPE
if [[ $syms == *__asan_* || $syms == *__tsan_* ]]; then
	echo "  SKIP: sanitizer build; the no-AVX2 run is checked by the plain build"
	exit 0
fi
Q=(qemu-x86_64 -cpu Nehalem)
for m in "${models[@]}"; do
	n=${m##*/}
	"${Q[@]}" "$SY" encode --model "$m" "${texts[@]}" >"$tmp/$n.nehalem" 2>"$tmp/err" ||
		fail "$n under ${Q[*]}: $(tail -5 "$tmp/err")"
	compare "$tmp/$n.native" "$tmp/$n.nehalem" "$n, ${Q[*]} vs native" ||
		fail "$n: the Nehalem run differs from the native one"
done
set +e
SWITCHYARD_ISA=avx2 "${Q[@]}" "$SY" encode --model tests/fixtures/bert-tiny "hello" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "SWITCHYARD_ISA=avx2 on Nehalem should exit 2, got $rc"
grep -q "cannot run the avx2 kernels" "$tmp/err" || fail "message: $(cat "$tmp/err")"
if [ -x "$B/tests/test_tensor" ]; then
	"${Q[@]}" "$B/tests/test_tensor" >"$tmp/tt" 2>&1 || fail "test_tensor under ${Q[*]}: $(tail -20 "$tmp/tt")"
	grep -q "^-- avx2 kernels: not supported here, skipped" "$tmp/tt" ||
		fail "test_tensor under ${Q[*]} did not skip avx2: $(cat "$tmp/tt")"
	echo "  test_tensor under ${Q[*]}: $(tail -1 "$tmp/tt") (portable path only)"
fi
echo "isa tests ok"
