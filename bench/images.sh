#!/usr/bin/env bash
# Images per second of CLIP vision towers of the ViT-B/32 and ViT-B/16 shapes (openai
# clip-vit-base-patch32 / -patch16: 12 layers, width 768, 224 x 224 pixels; seeded random
# weights written by tools/reference/make_clip_bench.py, a one-layer text tower beside them),
# through the whole path: JPEG decode, PIL-exact preprocessing and the tower, batches of
# BENCH_BATCH (default 8) images, median of BENCH_RUNS (default 5) after a warm-up batch.
# Switchyard's side only: the ONNX Runtime rows of issue 18 are not written yet.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
OUT=bench/out/images
mkdir -p "$OUT"
make -s BUILD="$BUILD" "$BUILD/libswitchyard.a" >&2
cc -std=c11 -O2 -g -pthread -Iinclude -Isrc -D_GNU_SOURCE -Wall -Wextra -Werror \
	bench/clip_bench.c "$BUILD/libswitchyard.a" -o "$OUT/clip_bench" \
	$(sed -n 's/^LDLIBS *:= *//p' Makefile)
for shape in b32 b16; do
	[ -f "$OUT/$shape/model.safetensors" ] ||
		/usr/bin/python3 tools/reference/make_clip_bench.py "$shape" "$OUT/$shape" >&2
	"$OUT/clip_bench" "$OUT/$shape" tests/fixtures/images/wide.jpg "${BENCH_BATCH:-8}" \
		"${BENCH_RUNS:-5}" "$THREADS"
done | tee "$OUT/results.jsonl"
