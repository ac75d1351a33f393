#!/usr/bin/env bash
# Load and soak runs against `switchyard serve` (results go in docs/RELIABILITY.md):
#
#   bench/soak/run.sh load    wrk for LOAD_S seconds (default 60) at 64 connections on
#                             POST /v1/encode with the built-in use-lite model; passes when no
#                             answer is 5xx (or a socket error) and resident memory after
#                             warm-up (the first quarter) stays within 5% of its value then.
#   bench/soak/run.sh soak    SOAK_S seconds (default 600) of a mix of every route at 16
#                             concurrent clients (bench/soak/mix.py): encode with and without
#                             params, OpenAI embeddings with floats and base64, models, health,
#                             metrics, 4xx cases (bad JSON, unknown model, too many items),
#                             admin unload/load; same pass rule, plus no unexpected status.
#
# Resident memory is sampled from /proc/<pid>/status (VmRSS) every second into
# $OUT/rss-<mode>.txt. Needs wrk (apt-get install wrk) for `load`.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SY=$BUILD/switchyard
MODE=${1:-load}
LOAD_S=${LOAD_S:-60}
SOAK_S=${SOAK_S:-600}
OUT=$BUILD/soak
mkdir -p "$OUT"
[ -x "$SY" ] || { echo "build first: make BUILD=$BUILD"; exit 1; }

"$SY" serve --host 127.0.0.1 --port 0 --model bert=tests/fixtures/bert-tiny \
	--max-queue-items 100000 >"$OUT/serve.out" 2>"$OUT/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
url=
for _ in $(seq 1 200); do
	url=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$OUT/serve.out" 2>/dev/null || true)
	[ -n "$url" ] && break
	sleep 0.05
done
[ -n "$url" ] || { cat "$OUT/serve.err"; exit 1; }
curl -sf "$url/v1/encode/use-lite" -d '{"items":[{"text":"warm up"}]}' >/dev/null

rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
sample() {
	: >"$OUT/rss-$MODE.txt"
	while kill -0 "$pid" 2>/dev/null; do
		echo "$(date +%s) $(rss)" >>"$OUT/rss-$MODE.txt"
		sleep 1
	done
}
sample &
sampler=$!

case $MODE in
load)
	DUR=$LOAD_S
	printf '{"items":[{"text":"The quick brown fox jumps over the lazy dog."},{"text":"Switchyard serves small models."}]}' >"$OUT/body.json"
	BODY=$OUT/body.json wrk -t 4 -c 64 -d "${LOAD_S}s" --latency -s bench/soak/count.lua \
		"$url/v1/encode/use-lite" >"$OUT/wrk.txt" 2>&1
	cat "$OUT/wrk.txt"
	read -r rps p50 p99 total non2xx sockerr < <(sed -n 's/^RESULT //p' "$OUT/wrk.txt")
	bad=$((non2xx + sockerr))
	;;
soak)
	DUR=$SOAK_S
	python3 bench/soak/mix.py "$url" "$SOAK_S" 16 | tee "$OUT/mix.txt"
	read -r total bad < <(sed -n 's/^RESULT //p' "$OUT/mix.txt")
	;;
*)
	echo "usage: bench/soak/run.sh load|soak"
	exit 2
	;;
esac
kill $sampler 2>/dev/null || true
python3 - "$OUT/rss-$MODE.txt" "$DUR" "$bad" "${total:-0}" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
dur, bad, total = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0 = rows[0][0]
warm = [r for t, r in rows if t - t0 >= dur / 4]
base, last, peak = warm[0], warm[-1], max(warm)
drift = (last - base) / base * 100
print(f"requests {total}, failed or 5xx {bad}; resident memory after warm-up {base / 1024:.1f} MB, "
      f"at the end {last / 1024:.1f} MB ({drift:+.1f}%), peak {peak / 1024:.1f} MB")
ok = bad == 0 and abs(drift) <= 5 and total > 0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
