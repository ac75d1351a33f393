#!/usr/bin/env bash
# USE-lite speed and quality, Switchyard versus the TF.js reference, side by side on STS-B dev.
#
#   bench/use_lite/run.sh [--runs N] [--batch N] [--data FILE] [--switchyard PATH]
#
# Both sides embed the same 3000 sentences (every pair's two sentences, in file order) in
# batches of --batch (default 32) and report Spearman/Pearson of cosine vs gold and sentences
# per second; model loading is not timed on either side. TF.js is @energetic-ai/embeddings 0.2.0
# on @energetic-ai/core (TensorFlow.js with its WASM backend), installed here with
# `npm install --ignore-scripts` (tfjs-node would need to download libtensorflow at install time,
# which --ignore-scripts, and an offline machine, rule out). Switchyard runs with all cores and
# with one thread. The sides alternate, run by run, so that a change in machine load hits both;
# the medians of --runs runs (default 3) are printed, then the embedding agreement of the two
# implementations over all the sentences. Outputs stay in bench/out/use_lite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=3
batch=32
data="$root/../shared/data/stsbenchmark/sts-dev.csv"
sw="$root/switchyard"
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--batch) batch=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	--switchyard) sw=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N] [--batch N] [--data FILE] [--switchyard PATH]" >&2; exit 2 ;;
	esac
done
[ -f "$data" ] || { echo "run.sh: no STS-B file at $data (use --data)" >&2; exit 1; }
if [ ! -x "$sw" ]; then
	make -C "$root" switchyard >/dev/null
fi
if [ ! -d "$here/node_modules/@energetic-ai/embeddings" ]; then
	echo "installing the TF.js reference (npm install --ignore-scripts) ..."
	(cd "$here" && npm install --ignore-scripts --no-audit --no-fund --silent)
fi
out="$root/bench/out/use_lite"
mkdir -p "$out"
: >"$out/ours.jsonl"
: >"$out/ours1.jsonl"
: >"$out/tfjs.jsonl"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commands:"
echo "  $sw eval sts --model use-lite --data $data --batch $batch --json [--threads 1]"
echo "  node $here/bench.js --data $data --batch $batch --json"
for i in $(seq 1 "$runs"); do
	"$sw" eval sts --model use-lite --data "$data" --batch "$batch" --json >>"$out/ours.jsonl"
	dump=()
	[ "$i" -eq 1 ] && dump=(--dump "$out/dump")
	(cd "$here" && node bench.js --data "$data" --batch "$batch" --json "${dump[@]}") \
		>>"$out/tfjs.jsonl"
	"$sw" eval sts --model use-lite --data "$data" --batch "$batch" --threads 1 --json \
		>>"$out/ours1.jsonl"
	echo "  run $i/$runs done"
done

node - "$out" <<'EOF'
const fs = require('fs');
const dir = process.argv[2];
const read = (f) => fs.readFileSync(`${dir}/${f}`, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const sides = [['switchyard (all cores)', read('ours.jsonl')], ['switchyard (1 thread)', read('ours1.jsonl')],
	['TF.js ' + read('tfjs.jsonl')[0].backend + ` (${read('tfjs.jsonl')[0].threads} thread)`, read('tfjs.jsonl')]];
const med = {};
console.log('');
console.log('side                      pairs  spearman  pearson   sentences/s (median; runs)');
for (const [name, rs] of sides) {
	const m = median(rs.map((r) => r.sentences_per_second));
	med[name] = m;
	console.log(`${name.padEnd(24)}  ${String(rs[0].pairs).padStart(5)}  ${rs[0].spearman.toFixed(4)}    ` +
		`${rs[0].pearson.toFixed(4)}    ${m.toFixed(1).padStart(7)}  (${rs.map((r) => r.sentences_per_second.toFixed(1)).join(', ')})`);
}
const tf = med[sides[2][0]];
console.log('');
console.log(`speed ratio switchyard/TF.js: ${(med[sides[0][0]] / tf).toFixed(2)}x (all cores), ` +
	`${(med[sides[1][0]] / tf).toFixed(2)}x (1 thread each)`);
EOF

# Agreement of the two implementations on every sentence (TF.js vectors dumped by run 1).
"$sw" encode --model use-lite --input "$out/dump/sentences.txt" >"$out/ours_vectors.jsonl"
(cd "$here" && node bench.js --compare "$out/ours_vectors.jsonl" "$out/dump")
