#!/usr/bin/env bash
# Images per second of CLIP vision towers of the ViT-B/32 and ViT-B/16 shapes (openai
# clip-vit-base-patch32 / -patch16: 12 layers, width 768, 224 x 224 pixels; seeded random
# weights written by tools/reference/make_clip_bench.py, a one-layer text tower beside them),
# Switchyard side by side with ONNX Runtime (onnxruntime-node, bench/peer) on the same weights
# (tools/reference/export_clip_onnx.py exports the tower and checks it against PyTorch).
# Switchyard's time is the whole path (JPEG decode, PIL-exact preprocessing, the tower, via
# sy_encode_images); ONNX Runtime's is session.run on the preprocessed pixels. Both first check
# their embedding against PyTorch's (cosine >= 0.9999). Batches of BENCH_BATCH (default 8),
# median of BENCH_RUNS (default 5) after a warm-up batch, BENCH_THREADS (default 2) threads;
# the engines alternate per shape, Switchyard first. `make bench-images`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
BATCH=${BENCH_BATCH:-8}
RUNS=${BENCH_RUNS:-5}
OUT=bench/out/images
IMAGE=tests/fixtures/images/wide.jpg
mkdir -p "$OUT"
if ! (cd bench/peer && node -e 'require("onnxruntime-node")' 2>/dev/null); then
	(cd bench/peer && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
fi
make -s BUILD="$BUILD" "$BUILD/libswitchyard.a" >&2
# shellcheck disable=SC2046 # the Makefile's link flags are a list of words
cc -std=c11 -O2 -g -pthread -Iinclude -Isrc -D_GNU_SOURCE -Wall -Wextra -Werror \
	bench/clip_bench.c "$BUILD/libswitchyard.a" -o "$OUT/clip_bench" \
	$(sed -n 's/^LDLIBS *:= *//p' Makefile)
for shape in b32 b16; do
	d=$OUT/$shape
	[ -f "$d/model.safetensors" ] || /usr/bin/python3 tools/reference/make_clip_bench.py "$shape" "$d" >&2
	[ -f "$d/model.onnx" ] ||
		/usr/bin/python3 tools/reference/export_clip_onnx.py "$d" "$IMAGE" 2>"$d/export.log" ||
		{ tail -5 "$d/export.log" >&2; exit 1; }
	"$OUT/clip_bench" "$d" "$IMAGE" "$BATCH" "$RUNS" "$THREADS" "$d/embed.f32"
	node bench/peer/ort_images.js "$d" "$BATCH" "$RUNS" "$THREADS"
done | tee "$OUT/results.jsonl"
