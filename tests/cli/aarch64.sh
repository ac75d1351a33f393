#!/usr/bin/env bash
# The ARM64 build under qemu-aarch64 (issue 20): `make cross-aarch64` (Debian's
# gcc-aarch64-linux-gnu and the arm64 multiarch libraries, `make deps-cross`) builds
# build-aarch64/switchyard and the kernel and model tests; here they run under qemu-aarch64 (the
# kernel tests on every path the emulated CPU has: NEON, and the portable one), and
# `switchyard encode` on USE-lite and bert-tiny (fp32 and int8) gives the same embeddings as this
# machine's build (cosine >= 0.9999).
# Skipped, with a message, when the cross toolchain, the arm64 libraries or qemu-aarch64 are
# absent, and in the sanitizer pass (the plain pass covers it).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
SY=$B/switchyard
X=build-aarch64
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "  SKIP: $*"; echo "aarch64 tests skipped"; exit 0; }
[ "$B" = build ] || skip "BUILD=$B: the cross build is checked in the plain pass"
command -v aarch64-linux-gnu-gcc >/dev/null || skip "no aarch64-linux-gnu-gcc (make deps-cross)"
command -v qemu-aarch64 >/dev/null || skip "no qemu-aarch64 (make deps-cross)"
dpkg-query -W libcjson-dev:arm64 >/dev/null 2>&1 || skip "no arm64 libraries (make deps-cross)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make -s cross-aarch64 >"$tmp/build.log" 2>&1 || { tail -20 "$tmp/build.log"; fail "make cross-aarch64"; }
file "$X/switchyard" | grep -q "ARM aarch64" || fail "$X/switchyard is not an aarch64 binary"
# -L /: the arm64 multiarch libc and libraries installed beside this machine's own
Q=(timeout 600 qemu-aarch64 -L /)

for t in base text tensor qgemm model; do
	"${Q[@]}" "$X/tests/test_$t" >"$tmp/$t.out" 2>&1 || { tail -20 "$tmp/$t.out"; fail "test_$t under qemu-aarch64"; }
	echo "  test_$t under qemu-aarch64: $(tail -1 "$tmp/$t.out")"
done
grep -q "^-- neon kernels" "$tmp/tensor.out" || fail "test_tensor did not run the NEON kernels"
grep -q "^-- neondot kernels" "$tmp/qgemm.out" || fail "test_qgemm did not run the dot-product kernels"
# A CPU without the dot-product instructions (Cortex-A53, ARMv8.0): the int8 GEMM falls back.
timeout 600 qemu-aarch64 -L / -cpu cortex-a53 "$X/tests/test_qgemm" >"$tmp/a53.out" 2>&1 ||
	{ tail -20 "$tmp/a53.out"; fail "test_qgemm under qemu-aarch64 -cpu cortex-a53"; }
grep -q "^-- neondot kernels" "$tmp/a53.out" && fail "neondot ran on a CPU without dot product"
echo "  test_qgemm under qemu-aarch64 -cpu cortex-a53 (no dot product): $(tail -1 "$tmp/a53.out")"

models=(tests/fixtures/bert-tiny)
if [ -d "${SY_SHARED:-../shared}/models/use-lite" ]; then
	models+=(use-lite)
else
	echo "  (no ${SY_SHARED:-../shared}/models/use-lite: USE-lite not checked)"
fi
texts=("hello" "Café déjà vu, a second text" "a third, longer text about trains and timetables")
for m in "${models[@]}"; do
	for q in none int8; do
		n=${m##*/}.$q
		# fp32 attention on this side too: ARM64 has no bf16 attention, and the
		# comparison is of the same arithmetic on two ISAs (the bf16 kernel has its own
		# tests against its twin and against fp32, test_tensor).
		SWITCHYARD_ATTENTION_BF16=0 "$SY" encode --quantize "$q" --model "$m" "${texts[@]}" >"$tmp/$n.x86"
		"${Q[@]}" "$X/switchyard" encode --quantize "$q" --model "$m" "${texts[@]}" >"$tmp/$n.arm" 2>"$tmp/err" ||
			fail "$n under qemu-aarch64: $(tail -5 "$tmp/err")"
		python3 - "$tmp/$n.x86" "$tmp/$n.arm" "$n" <<'PY' || fail "$n: the aarch64 embeddings differ"
import json, math, sys
a = [json.loads(l)["dense"] for l in open(sys.argv[1])]
b = [json.loads(l)["dense"] for l in open(sys.argv[2])]
assert len(a) == len(b) == 3, (len(a), len(b))
worst = min(sum(x * y for x, y in zip(u, v)) / math.sqrt(sum(x * x for x in u) * sum(y * y for y in v))
            for u, v in zip(a, b))
print(f"  {sys.argv[3]}: aarch64 vs x86-64, min cosine {worst:.8f}")
assert worst >= 0.9999, worst
PY
	done
done
echo "aarch64 tests ok"
