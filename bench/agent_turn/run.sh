#!/usr/bin/env bash
# The agent turn as a benchmark (`make bench-agent`; docs/PERFORMANCE.md section "agent turn").
#
# Writes the four models at the real models' shapes with seeded random weights
# (bench/agent_turn/make_models.py, needs Debian's python3-torch: `make deps-reference`) into
# bench/out/agent_turn/models once, then, for fp32 and for int8 (`--quantize int8`), starts a real
# `switchyard serve` on 127.0.0.1 at a random free port (stopped by the trap on exit) and runs
# bench/agent_turn/client.py against it: per turn a GLiNER extraction, a query encode and a
# rerank of 100 passages of ~99 tokens with the bge-reranker-base-shaped cross-encoder, at 1 and
# at 4 concurrent agents; then the rerank alone with the MiniLM-L6-shaped cross-encoder. Results:
# a Markdown table on stdout and in bench/out/agent_turn/results.md (JSON lines in results.jsonl).
#
# Environment:
#   BUILD=build          where switchyard is built
#   THREADS=0            compute threads per model run (0: one per core)
#   AGENTS="1 4"         concurrent agents
#   TURNS=4              turns per agent at 1 agent (TURNS4=2 per agent at 4 agents and above)
#   RERANKS=5            MiniLM-shape reranks
#   MODES="fp32 int8"
#   GLINER_THREADS=0     1: also build bench/agent_turn/gliner_threads.c and time GLiNER in process
#                        on 1 vs 2 threads (PERFORMANCE.md section 12)
#   SY_SHARED=../shared
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SY=$BUILD/switchyard
THREADS=${THREADS:-0}
AGENTS=${AGENTS:-1 4}
TURNS=${TURNS:-4}
TURNS4=${TURNS4:-2}
RERANKS=${RERANKS:-5}
MODES=${MODES:-fp32 int8}
export SY_SHARED=${SY_SHARED:-$(cd .. && pwd)/shared}
OUT=bench/out/agent_turn
M=$OUT/models
[ -x "$SY" ] || { echo "build first: make"; exit 1; }
mkdir -p "$OUT"
/usr/bin/python3 bench/agent_turn/make_models.py "$M"
if [ "${GLINER_THREADS:-0}" = 1 ]; then
	# shellcheck disable=SC2046
	cc -std=c11 -O2 -Isrc -D_GNU_SOURCE bench/agent_turn/gliner_threads.c \
		$(PKG_CONFIG_PATH="$BUILD" pkg-config --static --cflags --libs switchyard) -o "$OUT/gliner_threads"
	"$OUT/gliner_threads" "$M/gliner" 2 10
fi

pid=
log=$(mktemp)
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -f "$log"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

{
	echo "Host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; commit $(git rev-parse --short HEAD)," \
		"$(date -u '+%Y-%m-%d %H:%M UTC'); threads ${THREADS} (0: one per core)."
	echo "CPU flags: $(grep -m1 -o -w -E 'avx2|avx512f|avx512_vnni|avx_vnni|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' ')"
	echo
	echo "| mode | agents | turns | turn p50 / p99 ms | extract p50 / p99 | encode p50 / p99 | rerank 100 p50 / p99 | rerank server inference p50 | rerank server queue p50 | rerank tokenization p50 | turns/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$OUT/results.md"
: >"$OUT/results.jsonl"

for mode in $MODES; do
	port=$(free_port)
	q=()
	[ "$mode" = int8 ] && q=(--quantize int8)
	"$SY" serve --host 127.0.0.1 --port "$port" --threads "$THREADS" "${q[@]}" \
		--model gliner="$M/gliner" --model query="$M/query" --model reranker="$M/reranker" \
		--model reranker-minilm="$M/reranker-minilm" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
		sleep 0.1
	done
	for a in $AGENTS; do
		t=$TURNS
		[ "$a" -gt 1 ] && t=$TURNS4
		python3 bench/agent_turn/client.py "http://127.0.0.1:$port" "$mode" "$a" "$t" \
			2>>"$OUT/results.jsonl" | tee -a "$OUT/results.md"
	done
	python3 bench/agent_turn/client.py "http://127.0.0.1:$port" "$mode, rerank only, MiniLM-L6 CE" 1 \
		"$RERANKS" --rerank-only reranker-minilm 2>>"$OUT/results.jsonl" | tee -a "$OUT/results.md"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
done
