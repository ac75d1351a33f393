// The ONNX Runtime side of Switchyard's side-by-side benchmark (bench/run.sh, docs/PERFORMANCE.md).
//
//   node ort_bench.js MODEL.onnx THREADS [--min-runs N] [--budget-ms MS]
//                     NAME=INPUTS:WARMUP:MAX_RUNS... [--check NAME SY.f32 HIDDEN]
//
// Reads the same inputs files as bench/encoder_bench (little-endian int32: magic "SYB1",
// n_batches, then per batch n_seqs, lens[n_seqs], ids[sum lens]) and runs them the way a client
// of ONNX Runtime does: each batch padded to its longest sequence, with the attention mask
// marking the real tokens. The session uses THREADS intra-op threads, one inter-op thread,
// sequential execution and every graph optimisation. Tensors are built before the clock starts
// (as on Switchyard's side), so only session.run is timed.
//
// The run rule is encoder_bench's: the first batch WARMUP times untimed, then timed passes over all
// batches, at least --min-runs (default 3), at most MAX_RUNS, and no more once the timed passes
// have taken --budget-ms (default 15000) in all.
//
// Prints one JSON line per workload, in the format of encoder_bench. With --check, compares the
// last hidden state of the first batch of workload NAME with Switchyard's (SY.f32: packed real
// tokens, [sum lens][HIDDEN] float32), prints the largest absolute difference over the real
// tokens as a JSON line, and exits with status 3 when it is 1e-3 or more.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

const MAGIC = 0x31425953;
const CHECK_TOLERANCE = 1e-3;

function fail(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(2);
}

// Returns [{nSeqs, lens, ids (Int32Array, packed)}] from an inputs file.
function loadInputs(path) {
  const buf = fs.readFileSync(path);
  if (buf.length % 4 !== 0 || buf.length < 8) fail(`${path}: size ${buf.length} is not a whole header`);
  const w = new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  if (w[0] >>> 0 !== MAGIC) fail(`${path}: bad magic`);
  const batches = [];
  let at = 2;
  for (let b = 0; b < w[1]; b++) {
    if (at >= w.length) fail(`${path}: batch ${b}: past the end`);
    const nSeqs = w[at++];
    const lens = Array.from(w.subarray(at, at + nSeqs));
    at += nSeqs;
    const total = lens.reduce((a, x) => a + x, 0);
    if (nSeqs <= 0 || lens.some((x) => x <= 0) || at + total > w.length) fail(`${path}: batch ${b}: bad lengths`);
    batches.push({ nSeqs, lens, ids: w.subarray(at, at + total) });
    at += total;
  }
  if (at !== w.length) fail(`${path}: trailing data`);
  return batches;
}

// Pads one batch to its longest sequence and wraps it as the three int64 input tensors.
function makeFeeds(batch) {
  const seq = Math.max(...batch.lens);
  const n = batch.nSeqs * seq;
  const ids = new BigInt64Array(n);
  const mask = new BigInt64Array(n);
  let at = 0;
  for (let s = 0; s < batch.nSeqs; s++) {
    for (let t = 0; t < batch.lens[s]; t++) {
      ids[s * seq + t] = BigInt(batch.ids[at++]);
      mask[s * seq + t] = 1n;
    }
  }
  const dims = [batch.nSeqs, seq];
  return {
    seq,
    feeds: {
      input_ids: new ort.Tensor('int64', ids, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), dims),
    },
  };
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : 0.5 * (s[h - 1] + s[h]);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 3) {
    fail('usage: node ort_bench.js MODEL.onnx THREADS [--min-runs N] [--budget-ms MS] ' +
      'NAME=INPUTS:WARMUP:MAX_RUNS... [--check NAME SY.f32 HIDDEN]');
  }
  const [modelPath, threadsArg] = args;
  const threads = parseInt(threadsArg, 10);
  const workloads = [];
  let check = null;
  let minRuns = 3;
  let budgetMs = 15000;
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--min-runs' && i + 1 < args.length) {
      minRuns = parseInt(args[++i], 10);
      continue;
    }
    if (args[i] === '--budget-ms' && i + 1 < args.length) {
      budgetMs = parseFloat(args[++i]);
      continue;
    }
    if (args[i] === '--check' && i + 3 < args.length) {
      check = { name: args[i + 1], path: args[i + 2], hidden: parseInt(args[i + 3], 10) };
      i += 3;
      continue;
    }
    const m = /^([^=]+)=(.+):(\d+):(\d+)$/.exec(args[i]);
    if (!m || parseInt(m[4], 10) <= 0) fail(`bad argument ${args[i]} (NAME=INPUTS:WARMUP:MAX_RUNS)`);
    workloads.push({ name: m[1], path: m[2], warmup: parseInt(m[3], 10), maxRuns: parseInt(m[4], 10) });
  }

  const t0 = performance.now();
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  process.stderr.write(`ort_bench: loaded ${modelPath} in ${(performance.now() - t0).toFixed(0)} ms ` +
    `(onnxruntime ${ort.env.versions.node}, ${threads} threads)\n`);

  for (const w of workloads) {
    w.batches = loadInputs(w.path);
    w.prepared = w.batches.map(makeFeeds);
    w.tokens = w.batches.reduce((a, b) => a + b.ids.length, 0);
    w.padded = w.prepared.reduce((a, p, i) => a + p.seq * w.batches[i].nSeqs, 0);
  }

  if (check) {
    const w = workloads.find((x) => x.name === check.name);
    if (!w) fail(`--check ${check.name}: no such workload`);
    const batch = w.batches[0];
    const { seq, feeds } = w.prepared[0];
    const out = (await session.run(feeds)).last_hidden_state.data;
    const buf = fs.readFileSync(check.path);
    const sy = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const h = check.hidden;
    if (sy.length !== batch.ids.length * h) fail(`${check.path}: ${sy.length} floats, expected ${batch.ids.length * h}`);
    let maxDiff = 0;
    let at = 0;
    for (let s = 0; s < batch.nSeqs; s++) {
      for (let t = 0; t < batch.lens[s]; t++, at++) {
        for (let j = 0; j < h; j++) {
          const d = Math.abs(out[(s * seq + t) * h + j] - sy[at * h + j]);
          // A NaN on either side must fail the check, so it is counted as an infinite difference.
          maxDiff = Math.max(maxDiff, Number.isNaN(d) ? Infinity : d);
        }
      }
    }
    console.log(JSON.stringify({ side: 'ort', kind: 'check', workload: w.name, sequences: batch.nSeqs,
      tokens: batch.ids.length, max_abs_diff: maxDiff, tolerance: CHECK_TOLERANCE }));
    process.stderr.write(`ort_bench: check on ${w.name} batch 0: max abs diff ${maxDiff.toExponential(3)}\n`);
    if (!(maxDiff < CHECK_TOLERANCE)) process.exit(3);
  }

  for (const w of workloads) {
    const ms = [];
    let spent = 0;
    for (let r = 0; r < w.warmup; r++) await session.run(w.prepared[0].feeds);
    while (ms.length < w.maxRuns && (ms.length < minRuns || spent < budgetMs)) {
      const s = process.hrtime.bigint();
      for (const p of w.prepared) await session.run(p.feeds);
      ms.push(Number(process.hrtime.bigint() - s) / 1e6);
      spent += ms[ms.length - 1];
    }
    console.log(JSON.stringify({ side: 'ort', workload: w.name, batches: w.batches.length, tokens: w.tokens,
      padded_tokens: w.padded, median_ms: +median(ms).toFixed(3), runs_ms: ms.map((x) => +x.toFixed(3)) }));
    process.stderr.write(`ort_bench: ${w.name.padEnd(10)} median ${median(ms).toFixed(2).padStart(9)} ms over ${ms.length} runs\n`);
  }
}

main().catch((e) => fail(e.stack || String(e)));
