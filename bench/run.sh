#!/usr/bin/env bash
# Side-by-side benchmark: Switchyard's encoder against ONNX Runtime (onnxruntime-node) on the same
# random-weight models, the same token ids, the same batch shapes and the same thread count.
# Run it as `make bench` (or bench/run.sh after `make`); docs/PERFORMANCE.md explains the table.
#
# Steps: install the peer (npm, --ignore-scripts), export the two model shapes once with the
# independent PyTorch reference (tools/reference/export_onnx.py: model.onnx for ONNX Runtime,
# model.safetensors for Switchyard, identical weights), write the inputs files both sides read,
# build bench/out/encoder_bench against $BUILD/libswitchyard.a, measure the OpenBLAS GEMM peak,
# then per model shape run both engines side by side, alternating pass by pass (after checking
# that their last hidden states agree), and print the table (also written to bench/out/results.md).
# On the ":int8" shapes ONNX Runtime's own int8 graph (tools/reference/quantize_onnx.py) runs as a
# third engine in the same rounds; each shape ends with lone 1x16 requests after idle gaps.
# Then, on the BERT shapes (minilm-l6, bge-base), llama.cpp (built from source for this CPU by
# bench/llama/build_llama.sh, from the source bundle the node-llama-cpp npm package carries, and
# run by its C driver bench/llama/llama_embed_bench.c, a whole batch in one llama_decode or one
# decode a sequence, whichever its warm-up timed faster for the workload) runs the
# same weights written as GGUF with llama.cpp's own gguf-py (bench/llama/bert_gguf.py): f32
# against Switchyard fp32, q8_0 against Switchyard int8 on the ":int8" shapes, alternating with
# Switchyard pass by pass on the same inputs after a check of the pooled embeddings
# (bench/llama/llama_bench.mjs); printed as a second table.
#
# Environment:
#   BUILD=build          where libswitchyard.a is built (`make BUILD=... bench` passes it on)
#   BENCH_THREADS=2      threads on both sides
#   BENCH_RUNS=N         exactly N timed runs for every workload (default: the run rule below)
#   BENCH_BUDGET_S=15    the run rule: at least 3 timed runs per engine and at most runs_for's
#                        maximum, no more once either engine's runs of a workload took this long
#   BENCH_STREAM_STRIDE=12  the stream workload takes every Nth batch of 32 (1: all 94 batches)
#   BENCH_MODELS="minilm-l6 minilm-l6:int8 bge-base"   which model shapes to run; ":int8" runs
#                        Switchyard's linear layers in int8 (--quantize int8) against ORT fp32
#                        AND ORT int8 (the graph quantize_dynamic makes, written by
#                        tools/reference/quantize_onnx.py: DynamicQuantizeLinear + MatMulInteger,
#                        int8 weights per tensor; checked in ORT against the fp32 graph, cosine
#                        >= 0.99 per token, before any timing), all three alternating, and checks
#                        hidden states by cosine (>= 0.99 per token) instead of 1e-3.
#                        Also known, not run by default: gte-base (NewModel, the
#                        Alibaba-NLP/gte-base-en-v1.5 shape) and modernbert-base (the
#                        answerdotai/ModernBERT-base shape), e.g.
#                        BENCH_MODELS="gte-base modernbert-base" make bench
#   SY_SHARED=../shared  the shared data folder (STS-B, the bert-base-uncased tokenizer)
#   ORT_SPINNING=1       0 turns off the idle spinning of ORT's intra-op threads, which otherwise
#                        slows Switchyard's passes that alternate with it on 2 cores
#   BENCH_WORKLOADS="stsb 1x16 32x32 32x128 8x512"   the workloads timed (stsb is required)
#   BENCH_GAPS="20 200"  idle gaps (ms) of the sporadic-traffic rows: per gap and per engine, N
#                        lone 1x16 requests each after that much idle time (p50/p99); "" skips
#   BENCH_GAP_N=30       requests per gap
#   BENCH_LLAMA=1        0 skips llama.cpp. The first run builds it from source (a few minutes
#                        on 2 cores; bench/llama/build_llama.sh, LLAMA_JOBS=2), later runs reuse
#                        the build. Its GGUF declares the pooling the shape's real model
#                        uses (minilm-l6: mean, as all-MiniLM-L6-v2; bge-base: CLS, as bge), and
#                        the check compares llama.cpp's pooled embedding of every sequence of the
#                        first STS-B batch with the same pooling of Switchyard's last hidden state
#                        (cosine >= 0.999 f32 vs fp32, >= 0.99 q8_0 vs int8)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
MODELS=${BENCH_MODELS:-minilm-l6 minilm-l6:int8 bge-base}
OUT=bench/out
PY=/usr/bin/python3
SHARED=${SY_SHARED:-$(cd .. && pwd)/shared}
STSB=$SHARED/data/stsbenchmark/sts-dev.csv
VOCAB=$SHARED/models/bert-base-uncased-tokenizer/vocab.txt
T_START=$(date +%s)

say() { printf '== %s\n' "$*" >&2; }
die() {
	printf 'bench/run.sh: %s\n' "$*" >&2
	exit 1
}

# The export flags of each model shape (tools/reference/export_onnx.py --shape). gte-base and
# modernbert-base carry their models' real config values (rotary theta and NTK factor, window,
# global layer period, vocabulary, 8192 positions); the bench's sequences stop at 512 tokens.
shape_of() {
	case $1 in
	minilm-l6) echo "layers=6 hidden=384 heads=12 ffn=1536 vocab=30522 max_pos=512" ;;
	bge-base) echo "layers=12 hidden=768 heads=12 ffn=3072 vocab=30522 max_pos=512" ;;
	gte-base)
		echo "arch=new layers=12 hidden=768 heads=12 ffn=3072 vocab=30528 max_pos=8192" \
			"rope_theta=500000 ntk=2"
		;;
	modernbert-base)
		echo "arch=modernbert layers=22 hidden=768 heads=12 ffn=1152 vocab=50368" \
			"max_pos=8192 local=128 every=3"
		;;
	*) die "unknown model shape $1 (known: minilm-l6 bge-base gte-base modernbert-base)" ;;
	esac
}

# "WARMUP MAX_RUNS" per model shape and workload. Warm-up runs the workload's first batch; the
# bge-base shape's large batches take seconds a run, so they get no separate warm-up (a slow first
# run is one of at least three, and the median drops it).
runs_for() {
	local r
	case "$1/$2" in
	*/1x16) r="5 51" ;;
	bge-base/32x128 | bge-base/8x512 | gte-base/32x128 | gte-base/8x512) r="0 7" ;;
	modernbert-base/32x128 | modernbert-base/8x512) r="0 7" ;;
	*) r="1 7" ;;
	esac
	if [ -n "${BENCH_RUNS:-}" ]; then
		r="${r%% *} $BENCH_RUNS"
	fi
	echo "$r"
}
if [ -n "${BENCH_RUNS:-}" ]; then
	RULE=(--min-runs "$BENCH_RUNS" --budget-ms 0)
else
	RULE=(--min-runs 3 --budget-ms "$((${BENCH_BUDGET_S:-15} * 1000))")
fi
STRIDE=${BENCH_STREAM_STRIDE:-12}
LLAMA=${BENCH_LLAMA:-1}

# The pooling llama.cpp's GGUF of a BERT shape declares (that of the real model of that shape);
# empty for the shapes llama.cpp's bert architecture does not cover.
llama_pooling() {
	case $1 in
	minilm-l6) echo mean ;;
	bge-base) echo cls ;;
	esac
}

WORKLOADS=${BENCH_WORKLOADS:-stsb 1x16 32x32 32x128 8x512}
case " $WORKLOADS " in
*" stsb "*) ;;
*) die "BENCH_WORKLOADS must include stsb (the hidden-state check runs on it)" ;;
esac
# The lone requests reuse the 1x16 workload's input, so they run only when it is timed too.
GAPS=${BENCH_GAPS-20 200}
LONE=()
case " $WORKLOADS " in
*" 1x16 "*) [ -z "$GAPS" ] || LONE=(--lone 1x16 "$(echo $GAPS | tr ' ' ',')" "${BENCH_GAP_N:-30}") ;;
esac

# --- prerequisites -----------------------------------------------------------------------------
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
	die "$PY lacks torch/numpy (needed to export the models); run \`make deps-reference\` first"
fi
case " $MODELS" in
*:int8*)
	"$PY" -c 'import onnx' 2>/dev/null ||
		die "$PY lacks onnx (python3-onnx, to write ORT's int8 graph); run \`make deps-reference\` first"
	;;
esac
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	die "node and npm are needed for the ONNX Runtime side"
fi
[ -f "$STSB" ] || die "$STSB not found (set SY_SHARED to the shared data folder)"
[ -f "$VOCAB" ] || die "$VOCAB not found (set SY_SHARED to the shared data folder)"
mkdir -p "$OUT/models" "$OUT/inputs"

say "peer: onnxruntime-node (bench/peer)"
if ! (cd bench/peer && node -e 'require("onnxruntime-node")' 2>/dev/null); then
	(cd bench/peer && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
fi
ORT_VERSION=$(cd bench/peer && node -p 'require("onnxruntime-node").env.versions.node')
LLAMA_VERSION=
if [ "$LLAMA" != 0 ]; then
	say "peer: llama.cpp built from source (bench/llama/build_llama.sh)"
	LLAMA_COMMIT=$(bench/llama/build_llama.sh | tail -n 1)
	# ggml's CPU features as llama.cpp reports them, only those it was built with ("X = 1").
	LLAMA_CPU=$("$OUT/llama_embed_bench" --system-info | tr '|' '\n' | sed -n 's/^ *\(CPU : \)\{0,1\}\([A-Z0-9_]*\) = 1 *$/\2/p' | tr '\n' ' ' | sed 's/ $//')
	LLAMA_VERSION="llama.cpp ${LLAMA_COMMIT:0:8} built from source (GGML_NATIVE, ggml CPU: $LLAMA_CPU)"
fi

# --- models: exported once, again only when the shape or the reference changes ------------------
ref_sum=$(cat tools/reference/export_onnx.py tools/reference/models.py tools/reference/make_fixtures.py \
	tools/reference/safetensors_io.py tools/reference/onnx_encoders.py \
	tools/reference/make_new_model.py tools/reference/make_modernbert.py | md5sum | cut -d' ' -f1)
for m in $(for x in $MODELS; do echo "${x%%:*}"; done | sort -u); do
	d=$OUT/models/$m
	stamp="$(shape_of "$m") $ref_sum"
	if [ -f "$d/model.onnx" ] && [ -f "$d/model.safetensors" ] && [ "$(cat "$d/.stamp" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	say "exporting the $m shape into $d"
	rm -rf "$d"
	# shellcheck disable=SC2046 # the shape is a list of KEY=VALUE words
	SY_SHARED=$SHARED "$PY" tools/reference/export_onnx.py --shape $(shape_of "$m") --out-dir "$d" >&2
	# The exported graph itself, in ONNX Runtime, against the float64 reference (check.bin and
	# check-ref.f32 from export_onnx.py: three sequences of up to 200 tokens, right-padded).
	h=$("$PY" -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c.get("hidden_size", c.get("dim")))' \
		"$d/config.json")
	if ! node bench/peer/ort_bench.js "$d/model.onnx" "$THREADS" --min-runs 1 --budget-ms 0 \
		"ref=$d/check.bin:0:1" --check ref "$d/check-ref.f32" "$h" >"$d/check-ref.jsonl"; then
		die "$m: the exported ONNX graph does not match the reference (see $d/check-ref.jsonl)"
	fi
	echo "$stamp" >"$d/.stamp"
done

# ORT's int8 graph of every ":int8" shape (model-int8.onnx), rewritten from model.onnx the way
# quantize_dynamic quantises it, then run in ONNX Runtime against the float64 reference (cosine
# >= 0.99 per token; ort_bench.js checks it against the fp32 graph again before timing).
for m in $MODELS; do
	[ "$m" != "${m%:int8}" ] || continue
	d=$OUT/models/${m%%:*}
	stamp="$(cat "$d/.stamp") $(md5sum <tools/reference/quantize_onnx.py | cut -d' ' -f1)"
	if [ -f "$d/model-int8.onnx" ] && [ "$(cat "$d/.stamp-int8" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	say "writing ORT's int8 graph of ${m%%:*} (tools/reference/quantize_onnx.py)"
	"$PY" tools/reference/quantize_onnx.py "$d/model.onnx" "$d/model-int8.onnx" >&2
	h=$("$PY" -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c.get("hidden_size", c.get("dim")))' \
		"$d/config.json")
	if ! CHECK_MIN_COSINE=0.99 node bench/peer/ort_bench.js "$d/model-int8.onnx" "$THREADS" --min-runs 1 \
		--budget-ms 0 "ref=$d/check.bin:0:1" --check ref "$d/check-ref.f32" "$h" >"$d/check-ref-int8.jsonl"; then
		die "$m: ORT's int8 graph is not within cosine 0.99 of the reference (see $d/check-ref-int8.jsonl)"
	fi
	echo "$stamp" >"$d/.stamp-int8"
done

# llama.cpp's GGUF files of every BERT shape (model-f32.gguf, model-q8_0.gguf), written from the
# same model.safetensors.
if [ "$LLAMA" != 0 ]; then
	for m in $(for x in $MODELS; do echo "${x%%:*}"; done | sort -u); do
		pool=$(llama_pooling "$m")
		[ -n "$pool" ] || continue
		d=$OUT/models/$m
		stamp="$(cat "$d/.stamp") $pool $LLAMA_COMMIT $(cat bench/llama/bert_gguf.py bench/llama/llama_gguf.py | md5sum | cut -d' ' -f1)"
		if [ -f "$d/model-q8_0.gguf" ] && [ "$(cat "$d/.stamp-gguf" 2>/dev/null)" = "$stamp" ]; then
			continue
		fi
		say "writing llama.cpp's GGUF files of $m (bench/llama/bert_gguf.py, $pool pooling)"
		"$PY" bench/llama/bert_gguf.py "$d" --pooling "$pool" >&2
		echo "$stamp" >"$d/.stamp-gguf"
	done
fi

# --- inputs: written in one place, read by both sides ------------------------------------------
say "inputs: fixed shapes (seeded random ids) and the STS-B dev stream (bert-base-uncased, max 128)"
"$PY" - "$OUT/inputs" "$STSB" "$VOCAB" "$STRIDE" <<'EOF' >"$OUT/inputs/stream.txt"
import os, random, struct, sys
sys.path.insert(0, "tools/reference")
import wordpiece

out, stsb, vocab_path, stride = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def write(name, batches):
    # Little-endian int32: magic "SYB1", n_batches, per batch n_seqs, lens[], ids[].
    words = [0x31425953, len(batches)]
    for b in batches:
        words.append(len(b))
        words.extend(len(s) for s in b)
        for s in b:
            words.extend(s)
    path = os.path.join(out, name + ".bin")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<%dI" % len(words), *words))
    os.replace(path + ".tmp", path)

# Fixed shapes: every sequence full length, [CLS] random ids [SEP]; one generator per shape so
# that each shape's ids never depend on the others.
for i, (n, length) in enumerate(((1, 16), (32, 32), (32, 128), (8, 512))):
    rng = random.Random(20240 + i)
    batch = [[101] + [rng.randrange(1000, 30522) for _ in range(length - 2)] + [102] for _ in range(n)]
    write(f"{n}x{length}", [batch])

# The stream: both sentences of every STS-B dev pair, in file order, in batches of 32 as a client
# sends them; every stride-th batch is kept, so the sample spans all the file's sources (captions,
# news, forums) at a fraction of the cost.
vocab = wordpiece.load_vocab(vocab_path)
sentences = []
with open(stsb, encoding="utf-8") as f:
    for line in f:
        cols = line.rstrip("\n").split("\t")
        sentences += [cols[5], cols[6]]
seqs = [wordpiece.encode(s, vocab, 128) for s in sentences]
all_batches = [seqs[i:i + 32] for i in range(0, len(seqs), 32)]
batches = all_batches[::stride]
write("stsb", batches)
n = sum(map(len, batches))
real = sum(len(s) for b in batches for s in b)
padded = sum(len(b) * max(map(len, b)) for b in batches)
print(f"STS-B dev, {len(seqs)} sentences in {len(all_batches)} batches of 32; every {stride}th batch: "
      f"{len(batches)} batches, {n} sentences, {real} tokens (mean {real / n:.1f}, "
      f"max {max(len(s) for b in batches for s in b)}), {padded} tokens once padded per batch")
EOF
cat "$OUT/inputs/stream.txt" >&2

# --- Switchyard's side -------------------------------------------------------------------------
say "building $BUILD/libswitchyard.a and $OUT/encoder_bench"
make -s BUILD="$BUILD" "$BUILD/libswitchyard.a" >&2
# The project's compile flags (Makefile CFLAGS), plus OpenBLAS for the peak measurement.
cc -std=c11 -O2 -g -mavx2 -mfma -mf16c -pthread -Iinclude -Isrc -D_GNU_SOURCE \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
	bench/encoder_bench.c "$BUILD/libswitchyard.a" -o "$OUT/encoder_bench" \
	-lopenblas -lcjson -lutf8proc -lpcre2-8 -lz -lm -lpthread

COMMIT=$(git rev-parse --short HEAD)
if [ -n "$(git status --porcelain --untracked-files=no -- src include Makefile)" ]; then
	COMMIT="$COMMIT+uncommitted-changes"
fi
cat >"$OUT/meta.json" <<EOF
{"machine": "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs",
 "cpu_flags": "$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(sse4_2|avx|avx2|fma|f16c|avx512[a-z_0-9]*|avx_vnni|amx[a-z_0-9]*)$' | sort | tr '\n' ' ' | sed 's/ $//')",
 "isa": "${SWITCHYARD_ISA:-auto}",
 "date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "commit": "$COMMIT", "threads": $THREADS,
 "ort": "$ORT_VERSION", "llama": "$LLAMA_VERSION", "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF

# OpenBLAS's threads are only wanted by the peak measurement: the engine runs with one so that
# no idle BLAS thread competes with its own.
say "GEMM peak: OpenBLAS sgemm 2048^3 on $THREADS threads"
OPENBLAS_NUM_THREADS=$THREADS "$OUT/encoder_bench" peak "$THREADS" >"$OUT/peak.jsonl"

# Per model shape, bench/peer/ort_bench.js loads ONNX Runtime and starts encoder_bench as its
# child, then alternates the two engines pass by pass on every workload, so a burst of load from
# elsewhere on the machine hits both columns of a row alike. The stream goes first, and on it the
# script checks Switchyard's last hidden state against ONNX Runtime's before any timing.
for m in $MODELS; do
	base=${m%%:*}
	quant=none
	check_cos=
	also=()
	if [ "$m" != "$base" ]; then
		quant=${m#*:}
		check_cos=0.99
		also=(--also ort-int8 "$OUT/models/$base/model-int8.onnx")
	fi
	d=$OUT/models/$base
	specs=()
	for w in $WORKLOADS; do
		read -r warm runs <<<"$(runs_for "$base" "$w")"
		specs+=("$w=$OUT/inputs/$w.bin:$warm:$runs")
	done
	say "$m: Switchyard and ONNX Runtime $ORT_VERSION, alternating"
	if ! SY_BENCH_QUANTIZE=$quant CHECK_MIN_COSINE=$check_cos node bench/peer/ort_bench.js \
		"$d/model.onnx" "$THREADS" "${RULE[@]}" "${also[@]}" "${LONE[@]}" \
		--switchyard "$OUT/encoder_bench" "$d" "${specs[@]}" \
		--check stsb "$OUT/check-${m/:/-}.f32" >"$OUT/results-${m/:/-}.jsonl"; then
		die "$m: the benchmark failed, or the engines' last hidden states differ (see $OUT/results-${m/:/-}.jsonl)"
	fi
	# llama.cpp beside Switchyard on the same workloads: f32 against fp32, q8_0 against int8.
	rm -f "$OUT/results-llama-${m/:/-}.jsonl"
	[ "$LLAMA" != 0 ] && [ -n "$(llama_pooling "$base")" ] || continue
	gguf=f32
	check_cos=0.999
	if [ "$quant" = int8 ]; then
		gguf=q8_0
		check_cos=0.99
	fi
	say "$m: Switchyard and llama.cpp $gguf ($LLAMA_VERSION), alternating"
	if ! SY_BENCH_QUANTIZE=$quant CHECK_MIN_COSINE=$check_cos node bench/llama/llama_bench.mjs \
		"$d/model-$gguf.gguf" "$THREADS" "${RULE[@]}" --label "llama.cpp-$gguf" --check stsb \
		--llama "$OUT/llama_embed_bench" \
		--switchyard "$OUT/encoder_bench" "$d" "${specs[@]}" >"$OUT/results-llama-${m/:/-}.jsonl"; then
		die "$m: the llama.cpp benchmark failed, or the pooled embeddings differ (see $OUT/results-llama-${m/:/-}.jsonl)"
	fi
done

# A second peak measurement at the end; the best of both is the peak, so a noisy moment at the
# start does not flatter the achieved share.
OPENBLAS_NUM_THREADS=$THREADS "$OUT/encoder_bench" peak "$THREADS" >>"$OUT/peak.jsonl"

# --- the table ---------------------------------------------------------------------------------
"$PY" - "$OUT" "$MODELS" "$(($(date +%s) - T_START))" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import json, os, sys

out, models, elapsed, load_end = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4]
meta = json.load(open(os.path.join(out, "meta.json")))
peak = max(json.loads(l)["gflops"] for l in open(os.path.join(out, "peak.jsonl")))
# layers, hidden, intermediate, gated MLP (NewModel's up_gate_proj, ModernBERT's Wi: 2 x ffn rows)
SHAPES = {"minilm-l6": (6, 384, 1536, False), "bge-base": (12, 768, 3072, False),
          "gte-base": (12, 768, 3072, True), "modernbert-base": (22, 768, 1152, True)}

def lines(path):
    return [json.loads(l) for l in open(path) if l.strip()]

rows, checks, lone = [], [], []
for m in models:
    res = lines(os.path.join(out, f"results-{m.replace(':', '-')}.jsonl"))
    sy = {r["workload"]: r for r in res if r["side"] == "switchyard" and r.get("kind") is None}
    ort = [r for r in res if r["side"] == "ort"]
    # ORT's own int8 graph, timed in the same rounds on the ":int8" shapes
    ort8 = {r["workload"]: r for r in res if r["side"] == "ort-int8" and r.get("kind") is None}
    checks += [(m, r) for r in res if r.get("kind") == "check"]
    lone += [(m, r) for r in res if r.get("kind") == "lone"]
    layers, h, ffn, glu = SHAPES[m.split(":")[0]]
    # Linear layers per token: Q, K, V and the attention output (h x h each), FFN up (h x ffn,
    # twice for a gated MLP) and down.
    flop_per_token = 2 * layers * (4 * h * h + (3 if glu else 2) * h * ffn)
    order = ["1x16", "32x32", "32x128", "8x512", "stsb"]
    for r in sorted((r for r in ort if r.get("kind") is None), key=lambda r: order.index(r["workload"])):
        s = sy[r["workload"]]
        tok = s["tokens"]
        sy_tps, ort_tps = tok / s["median_ms"] * 1e3, tok / r["median_ms"] * 1e3
        gflops = tok * flop_per_token / (s["median_ms"] * 1e6)
        lat = f"{s['median_ms'] / r['median_ms']:.2f}" if r["workload"] == "1x16" else ""
        name = "stsb (stream)" if r["workload"] == "stsb" else r["workload"]
        q = ort8.get(r["workload"])
        q_cols = ["", "", ""]
        if q:
            q_cols = [f"{q['median_ms']:.2f}", f"{tok / q['median_ms'] * 1e3:,.0f}",
                      f"{q['median_ms'] / s['median_ms']:.2f}"]
        rows.append([name, m, str(tok), f"{s['median_ms']:.2f}", f"{r['median_ms']:.2f}",
                     f"{sy_tps:,.0f}", f"{ort_tps:,.0f}", f"{sy_tps / ort_tps:.2f}", lat, *q_cols,
                     f"{gflops:.1f}", f"{100 * gflops / peak:.0f}%",
                     str(len(r["runs_ms"])) if len(s["runs_ms"]) == len(r["runs_ms"])
                     else f"{len(s['runs_ms'])}/{len(r['runs_ms'])}"])

head = ["workload", "model", "tokens", "SY ms", "ORT ms", "SY tok/s", "ORT tok/s", "tok/s SY/ORT",
        "latency SY/ORT", "ORT int8 ms", "ORT int8 tok/s", "tok/s SY/ORT int8", "SY linear GFLOP/s",
        "of peak", "runs"]
stream = open(os.path.join(out, "inputs", "stream.txt")).read().strip()
info = [f"machine: {meta['machine']}", f"CPU flags: {meta['cpu_flags']}",
        f"Switchyard kernels: SWITCHYARD_ISA={meta['isa']}"
        + (" (the best path the CPU runs)" if meta['isa'] == "auto" else ""),
        f"date: {meta['date']}", f"commit: {meta['commit']}",
        f"threads: {meta['threads']} per side; ONNX Runtime {meta['ort']} (onnxruntime-node), "
        f"ORT idle spinning {'off' if os.environ.get('ORT_SPINNING') == '0' else 'on (its default)'}",
        f"GEMM peak: {peak:.1f} GFLOP/s (OpenBLAS sgemm 2048^3, best of two measurements)",
        f"stream: {stream}",
        f"load average at start {meta['loadavg_start']}, at end {load_end} (other processes "
        f"compete for the cores when it is near or above the thread count); total time {elapsed} s"]
info += [f"check {m}{' ORT int8 graph vs ORT fp32' if r['side'] == 'ort-int8' else ''}: "
         f"last hidden state, {r['workload']} batch 0 ({r['sequences']} sequences, "
         f"{r['tokens']} tokens): " +
         (f"min token cosine {r['min_cosine']:.5f} (>= {r['min_cosine_required']:g}; max abs diff "
          f"{r['max_abs_diff']:.2e})" if r.get("min_cosine_required") else
          f"max abs diff {r['max_abs_diff']:.2e} (< {r['tolerance']:g})")
         for m, r in checks]

widths = [max(len(x) for x in col) for col in zip(head, *rows)]
fmt = lambda r: "  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
print()
print("\n".join(info))
print()
print(fmt(head))
for r in rows:
    print(fmt(r))
# Sporadic traffic: lone 1x16 requests after an idle gap, p50 / p99 per engine.
lone_head = ["model", "idle gap", "engine", "p50 ms", "p99 ms", "requests"]
lone_rows = [[m, f"{r['gap_ms']:g} ms", r["side"], f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
              str(len(r["runs_ms"]))] for m, r in lone]
if lone_rows:
    lw = [max(len(x) for x in col) for col in zip(lone_head, *lone_rows)]
    lfmt = lambda r: "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, lw)))
    print()
    print("lone 1x16 requests after an idle gap (sporadic traffic):")
    print(lfmt(lone_head))
    for r in lone_rows:
        print(lfmt(r))

with open(os.path.join(out, "results.md"), "w") as f:
    f.write("".join(f"- {x}\n" for x in info) + "\n")
    f.write("| " + " | ".join(head) + " |\n")
    f.write("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|\n")
    for r in rows:
        f.write("| " + " | ".join(r) + " |\n")
    if lone_rows:
        f.write("\nLone 1x16 requests after an idle gap (sporadic traffic):\n\n")
        f.write("| " + " | ".join(lone_head) + " |\n")
        f.write("|---|---|---|---:|---:|---:|\n")
        for r in lone_rows:
            f.write("| " + " | ".join(r) + " |\n")

# llama.cpp beside Switchyard (a second run of each shape, alternating with Switchyard again).
llama_rows, llama_info = [], []
for m in models:
    path = os.path.join(out, f"results-llama-{m.replace(':', '-')}.jsonl")
    if not os.path.exists(path):
        continue
    res = lines(path)
    sy = {r["workload"]: r for r in res if r.get("side") == "switchyard"}
    for r in res:
        if r.get("kind") == "check":
            llama_info.append(f"check {m} {r['side']} vs Switchyard {'int8' if ':int8' in m else 'fp32'}: "
                              f"{r['pooling']}-pooled embedding of {r['sequences']} sequences "
                              f"({r['workload']} batch 0): min cosine {r['cosine']:.6f} "
                              f"(>= {r['min_cosine_required']:g}; max abs diff {r['max_abs_diff']:.2e})")
    order = ["1x16", "32x32", "32x128", "8x512", "stsb"]
    ll = sorted((r for r in res if r.get("side", "").startswith("llama.cpp") and r.get("kind") is None),
                key=lambda r: order.index(r["workload"]))
    for r in ll:
        s = sy[r["workload"]]
        tok = s["tokens"]
        name = "stsb (stream)" if r["workload"] == "stsb" else r["workload"]
        lat = f"{s['median_ms'] / r['median_ms']:.2f}" if r["workload"] == "1x16" else ""
        llama_rows.append([name, m, r["side"], str(tok), f"{s['median_ms']:.2f}", f"{r['median_ms']:.2f}",
                           f"{tok / s['median_ms'] * 1e3:,.0f}", f"{tok / r['median_ms'] * 1e3:,.0f}",
                           f"{r['median_ms'] / s['median_ms']:.2f}", lat,
                           f"{r['decodes']} ({r['sequences']} seqs)", str(len(r["runs_ms"]))])
llama_head = ["workload", "model", "llama.cpp", "tokens", "SY ms", "llama.cpp ms", "SY tok/s",
              "llama.cpp tok/s", "tok/s SY/llama.cpp", "latency SY/llama.cpp", "llama_decode calls a pass",
              "runs"]
if llama_rows:
    llama_info.insert(0, f"llama.cpp: {meta['llama']}, run by bench/llama/llama_embed_bench.c (a whole "
                      f"batch in one llama_decode or one a sequence, the faster at warm-up), {meta['threads']} threads; GGUF from the same "
                      "safetensors by llama.cpp's gguf-py (bench/llama/bert_gguf.py): f32 beside Switchyard "
                      "fp32, q8_0 beside Switchyard int8 (the :int8 rows); Switchyard timed again, "
                      "alternating with llama.cpp")
    lw = [max(len(x) for x in col) for col in zip(llama_head, *llama_rows)]
    lfmt = lambda r: "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, lw)))
    print()
    print("Switchyard vs llama.cpp (same weights as GGUF, same token ids, same threads):")
    print("\n".join(llama_info))
    print(lfmt(llama_head))
    for r in llama_rows:
        print(lfmt(r))
    with open(os.path.join(out, "results.md"), "a") as f:
        f.write("\nSwitchyard vs llama.cpp (same weights as GGUF, same token ids, same threads):\n\n")
        f.write("".join(f"- {x}\n" for x in llama_info) + "\n")
        f.write("| " + " | ".join(llama_head) + " |\n")
        f.write("|" + "|".join("---" if i < 3 else "---:" for i in range(len(llama_head))) + "|\n")
        for r in llama_rows:
            f.write("| " + " | ".join(r) + " |\n")
print(f"\n(written to {os.path.join(out, 'results.md')})")
EOF
