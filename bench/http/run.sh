#!/usr/bin/env bash
# HTTP load run: wrk against `switchyard serve` (POST /v1/encode/{model}) with 1-item and 32-item
# bodies, at 1 connection (latency) and 8 connections (throughput), next to the same requests
# sent in-process to engine_encode by as many threads (bench/http/inproc.c), so the difference is
# the cost of HTTP, JSON parsing and writing, and the server's threads. Prints a Markdown table
# (also written to $BUILD/bench-http/results.md) with requests/s and p50/p99 latency.
#
# Environment:
#   BUILD=build            where switchyard and libswitchyard.a are built
#   DURATION=5             seconds per measurement
#   CONNS="1 8"            client connections (and in-process threads)
#   THREADS=0              compute threads per model run, both sides (0: one per core)
#   MODELS="bert=tests/fixtures/bert-tiny use-lite=$SY_SHARED/models/use-lite"
#   SY_SHARED=../shared
# Needs wrk (Debian package wrk: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SY=$BUILD/switchyard
DURATION=${DURATION:-5}
CONNS=${CONNS:-1 8}
THREADS=${THREADS:-0}
SHARED=${SY_SHARED:-$(cd .. && pwd)/shared}
MODELS=${MODELS:-bert=tests/fixtures/bert-tiny use-lite=$SHARED/models/use-lite}
OUT=$BUILD/bench-http
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk"; exit 1; }
[ -x "$SY" ] && [ -f "$BUILD/libswitchyard.a" ] || { echo "build first: make BUILD=$BUILD"; exit 1; }
mkdir -p "$OUT"

# The library's own pkg-config file gives what the static archive needs.
# shellcheck disable=SC2046
cc -std=c11 -O2 -Isrc -D_GNU_SOURCE bench/http/inproc.c \
	$(PKG_CONFIG_PATH="$BUILD" pkg-config --static --cflags --libs switchyard) -o "$OUT/inproc"

# Request bodies: 1 item, and 32 distinct items of 8-30 words.
/usr/bin/python3 - "$OUT" <<'PY'
import json, random, sys
rnd = random.Random(5)
words = ("the quick brown fox jumps over a lazy dog while data engineers ship small fast "
         "embedding models to production servers every day at scale with care").split()
def text(): return " ".join(rnd.choice(words) for _ in range(rnd.randint(8, 30)))
for n in (1, 32):
    json.dump({"items": [{"text": text()} for _ in range(n)]}, open(f"{sys.argv[1]}/body{n}.json", "w"))
PY

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

{
	echo "| model | items/request | clients | HTTP req/s | HTTP p50 ms | HTTP p99 ms | in-process req/s | in-process p50 ms | in-process p99 ms | HTTP overhead p50 ms |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT/results.md"

for spec in $MODELS; do
	id=${spec%%=*}
	path=${spec#*=}
	if [ ! -e "$path" ]; then
		echo "skipping $id: $path not found"
		continue
	fi
	timeout 3600 "$SY" serve --host 127.0.0.1 --port 0 --no-builtin-models --model "$spec" --threads "$THREADS" \
		>"$tmp/out" 2>"$tmp/err" &
	pid=$!
	url=
	for _ in $(seq 1 200); do
		url=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/out")
		[ -n "$url" ] && break
		sleep 0.05
	done
	[ -n "$url" ] || { cat "$tmp/err"; exit 1; }
	curl -sf -X POST "$url/v1/models/$id/load" >/dev/null
	for n in 1 32; do
		for c in $CONNS; do
			body=$OUT/body$n.json
			# Warm-up, then the measured run.
			BODY=$body wrk -t1 -c"$c" -d1s -s bench/http/post.lua "$url/v1/encode/$id" >/dev/null
			threads=$((c < 2 ? 1 : 2))
			h=$(BODY=$body wrk -t"$threads" -c"$c" -d"${DURATION}s" -s bench/http/post.lua \
				"$url/v1/encode/$id" | sed -n 's/^RESULT //p')
			p=$("$OUT/inproc" "$spec" "$body" "$c" "$DURATION" "$THREADS" | sed -n 's/^RESULT //p')
			read -r hr h50 h99 hn herr <<<"$h"
			read -r pr p50 p99 pn <<<"$p"
			[ "$herr" = 0 ] || echo "warning: $herr HTTP errors ($id, $n items, $c clients)"
			over=$(awk -v a="$h50" -v b="$p50" 'BEGIN { printf "%.3f", a - b }')
			echo "| $id | $n | $c | $hr | $h50 | $h99 | $pr | $p50 | $p99 | $over |" |
				tee -a "$OUT/results.md"
		done
	done
	kill "$pid"
	wait "$pid" || true
	pid=
done
echo
echo "machine: $(nproc) cores, $THREADS compute threads (0: one per core), load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$OUT/results.md"
