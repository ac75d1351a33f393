#!/usr/bin/env bash
# Decoder embedders side by side with llama.cpp (issue: decoder models as encoders): Switchyard's
# fp32 against llama.cpp's f32 GGUF and Switchyard's int8 against llama.cpp's q8_0 GGUF, on the
# same random weights in the Qwen3-Embedding-0.6B shape (bench/llama/make_models.py writes the
# Hugging Face directory and both GGUF files from one set of tensors), the same token ids and the
# same thread count, alternating pass by pass (bench/llama/llama_bench.mjs), after a check that
# both compute the same embedding. Workloads: a 1x32 query (latency) and a 16x256 document batch
# (throughput). Run it as `make bench-llama` (or bench/llama/run.sh after `make`).
#
# llama.cpp is built from source for this CPU (bench/llama/build_llama.sh: the source bundle the
# node-llama-cpp npm package carries, GGML_NATIVE, static libllama + ggml, once per commit) and
# runs in its C driver bench/llama/llama_embed_bench.c, a whole batch in one llama_decode or one
# decode a sequence, whichever its warm-up timed faster. The
# GGUF files are written by llama.cpp's own gguf-py from that tree (bench/llama/llama_gguf.py).
#
# Environment: BUILD=build, BENCH_THREADS=2, BENCH_BUDGET_S=20 (per workload and engine, at least
# 3 timed runs), BENCH_LAYERS=28 (fewer for a quick try).
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
BUDGET_MS=$((${BENCH_BUDGET_S:-20} * 1000))
LAYERS=${BENCH_LAYERS:-28}
OUT=bench/out/llama
PY=/usr/bin/python3

say() { printf '== %s\n' "$*" >&2; }
die() {
	printf 'bench/llama/run.sh: %s\n' "$*" >&2
	exit 1
}
"$PY" -c 'import torch, numpy' 2>/dev/null || die "$PY lacks torch/numpy; run \`make deps-reference\` first"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	die "node (the orchestrator) and npm (node-llama-cpp carries llama.cpp's source) are needed"
fi
mkdir -p "$OUT"

say "peer: llama.cpp built from source (bench/llama/build_llama.sh)"
commit=$(bench/llama/build_llama.sh | tail -n 1)

stamp="$LAYERS $commit $(md5sum bench/llama/make_models.py bench/llama/llama_gguf.py tests/tokenizers/qwen-bpe.json | md5sum | cut -d' ' -f1)"
if [ "$(cat "$OUT/models/.stamp" 2>/dev/null)" != "$stamp" ]; then
	say "writing the Qwen3-Embedding-0.6B shape ($LAYERS layers) as safetensors and GGUF f32/q8_0"
	rm -rf "$OUT/models"
	"$PY" bench/llama/make_models.py "$OUT/models" --layers "$LAYERS" >&2
	echo "$stamp" >"$OUT/models/.stamp"
fi

say "inputs: 1x32 and 16x256 seeded token ids"
"$PY" - "$OUT" <<'PY'
import random, struct, sys
out = sys.argv[1]
rng = random.Random(17)
for name, n, length in (("q1x32", 1, 32), ("d16x256", 16, 256)):
    ids = [rng.randrange(0, 510) for _ in range(n * length)]
    with open(f"{out}/{name}.bin", "wb") as f:
        f.write(struct.pack("<Ii", 0x31425953, 1))
        f.write(struct.pack(f"<i{n}i", n, *([length] * n)))
        f.write(struct.pack(f"<{len(ids)}i", *ids))
PY

say "building $BUILD/libswitchyard.a and $OUT/encoder_bench"
make -s BUILD="$BUILD" "$BUILD/libswitchyard.a" >&2
cc -std=c11 -O2 -g -pthread -Iinclude -Isrc -D_GNU_SOURCE -Wall -Wextra -Werror \
	bench/encoder_bench.c "$BUILD/libswitchyard.a" -o "$OUT/encoder_bench" \
	-lopenblas -lcjson -lutf8proc -lpcre2-8 -lz -lm -lpthread

specs=("q1x32=$OUT/q1x32.bin:5:400" "d16x256=$OUT/d16x256.bin:1:40")
for pair in "none f32 0.999" "int8 q8_0 0.99"; do
	read -r quant gguf cos <<<"$pair"
	say "Switchyard ($quant) against llama.cpp $gguf, alternating"
	if ! SY_BENCH_QUANTIZE=$quant CHECK_MIN_COSINE=$cos node bench/llama/llama_bench.mjs \
		"$OUT/models/model-$gguf.gguf" "$THREADS" --budget-ms "$BUDGET_MS" --label "llama.cpp-$gguf" \
		--llama bench/out/llama_embed_bench \
		--switchyard "$OUT/encoder_bench" "$OUT/models/hf" "${specs[@]}" >"$OUT/results-$gguf.jsonl"; then
		die "$gguf: the benchmark failed or the engines disagree (see $OUT/results-$gguf.jsonl)"
	fi
done

"$PY" - "$OUT" "$THREADS" "$commit" "$(bench/out/llama_embed_bench --system-info)" <<'PY'
import json, sys
out, threads, commit, sysinfo = sys.argv[1:5]
rows = {}
checks = []
rss = {}
for g in ("f32", "q8_0"):
    for line in open(f"{out}/results-{g}.jsonl"):
        r = json.loads(line)
        if r.get("kind") == "check":
            checks.append(f"{r['side']}: cosine {r['cosine']:.6f}")
            continue
        if r.get("kind") == "rss":
            rss["switchyard-" + ("fp32" if g == "f32" else "int8")] = r["switchyard_mib"]
            rss["llama.cpp-" + g] = r[f"llama.cpp-{g}_mib"]
            continue
        side = "switchyard-" + ("fp32" if g == "f32" else "int8") if r["side"] == "switchyard" else r["side"]
        rows[(r["workload"], side)] = r
cols = ["switchyard-fp32", "llama.cpp-f32", "switchyard-int8", "llama.cpp-q8_0"]
cpu = " ".join(f.split("=")[0].split(":")[-1].strip() for f in sysinfo.split("|") if f.strip().endswith("= 1"))
print(f"llama.cpp {commit[:8]} built from source (GGML_NATIVE; ggml CPU: {cpu})")
print(f"Qwen3-Embedding-0.6B shape, {threads} threads; medians (tokens/s)")
print("| workload | " + " | ".join(cols) + " | fp32 ratio | int8 ratio |")
print("|---|" + "---:|" * (len(cols) + 2))
for w in ("q1x32", "d16x256"):
    cells = []
    for c in cols:
        r = rows[(w, c)]
        cells.append(f"{r['median_ms']:.1f} ms ({r['tokens_per_s']:,})")
    f = rows[(w, "llama.cpp-f32")]["median_ms"] / rows[(w, "switchyard-fp32")]["median_ms"]
    q = rows[(w, "llama.cpp-q8_0")]["median_ms"] / rows[(w, "switchyard-int8")]["median_ms"]
    print(f"| {w} | " + " | ".join(cells) + f" | {f:.2f}x | {q:.2f}x |")
print("| peak RSS | " + " | ".join(f"{rss[c]} MiB" for c in cols) + " | | |")
print("llama_decode calls a pass: " + "; ".join(
    f"{w} {g}: {rows[(w, 'llama.cpp-' + g)]['decodes']}" for w in ("q1x32", "d16x256") for g in ("f32", "q8_0")))
print("checks: " + "; ".join(checks))
PY
