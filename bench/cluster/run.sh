#!/usr/bin/env bash
# Throughput and latency through the cluster (docs/PERFORMANCE.md section 5): wrk at CONNS
# connections (default 16) for DUR seconds (default 15) on POST /v1/encode/use-lite (two short
# texts per request), against
#   serve       switchyard serve, 2 compute threads (the single-machine baseline)
#   gw+1        gateway + 1 worker with 2 compute threads
#   gw+2        gateway + 2 workers with 1 compute thread each
# all on this machine with a local nats-server -js, ROUNDS times (default 3) in turn; prints one
# RESULT line per run (requests/s, p50 ms, p99 ms, requests, non-2xx, socket errors) and the
# medians. Needs nats-server and wrk (make deps).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SY=$BUILD/switchyard
DUR=${DUR:-15}
CONNS=${CONNS:-16}
ROUNDS=${ROUNDS:-3}
OUT=$BUILD/cluster-bench
rm -rf "$OUT"
mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NPORT=$(port)
nats-server -js -sd "$OUT/js" -a 127.0.0.1 -p "$NPORT" >"$OUT/nats.log" 2>&1 &
pids+=($!)
sleep 0.5
NATS=nats://127.0.0.1:$NPORT
printf '{"items":[{"text":"The quick brown fox jumps over the lazy dog."},{"text":"Switchyard serves small models."}]}' >"$OUT/body.json"

wait_url() { # FILE -> URL
	for _ in $(seq 1 400); do
		u=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$1" 2>/dev/null || true)
		[ -n "$u" ] && { echo "$u"; return 0; }
		sleep 0.05
	done
	return 1
}

run_one() { # NAME
	local name=$1 url started=()
	case $name in
	serve)
		"$SY" serve --host 127.0.0.1 --port 0 --threads 2 >"$OUT/s.out" 2>"$OUT/s.err" &
		started+=($!)
		url=$(wait_url "$OUT/s.out")
		;;
	gw+*)
		local n=${name#gw+} threads=$((2 / ${name#gw+}))
		for i in $(seq 1 "$n"); do
			"$SY" worker --nats "$NATS" --pool bench --threads "$threads" >"$OUT/w$i.out" 2>"$OUT/w$i.err" &
			started+=($!)
		done
		"$SY" gateway --host 127.0.0.1 --port 0 --nats "$NATS" --pool bench >"$OUT/g.out" 2>"$OUT/g.err" &
		started+=($!)
		url=$(wait_url "$OUT/g.out")
		;;
	esac
	for _ in $(seq 1 100); do
		curl -sf "$url/v1/encode/use-lite" -d @"$OUT/body.json" >/dev/null && break
		sleep 0.1
	done
	BODY=$OUT/body.json wrk -t 2 -c "$CONNS" -d "${DUR}s" --latency -s bench/soak/count.lua \
		"$url/v1/encode/use-lite" >"$OUT/wrk-$name.txt" 2>&1
	echo "$name $(sed -n 's/^RESULT //p' "$OUT/wrk-$name.txt")" | tee -a "$OUT/results.txt"
	for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
}

for r in $(seq 1 "$ROUNDS"); do
	for name in serve gw+1 gw+2; do
		run_one "$name"
	done
done
echo "medians (requests/s, p50 ms, p99 ms):"
python3 - "$OUT/results.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append([float(x) for x in f[1:4]])
for name in ("serve", "gw+1", "gw+2"):
    if name in rows:
        cols = list(zip(*rows[name]))
        print(f"  {name:6s} {statistics.median(cols[0]):8.1f} req/s   p50 {statistics.median(cols[1]):7.2f} ms   p99 {statistics.median(cols[2]):7.2f} ms   ({len(rows[name])} runs)")
PY
