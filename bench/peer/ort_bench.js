// The ONNX Runtime side of Switchyard's side-by-side benchmark (bench/run.sh, docs/PERFORMANCE.md).
//
//   node ort_bench.js MODEL.onnx THREADS [--min-runs N] [--budget-ms MS]
//        [--switchyard ENCODER_BENCH MODEL_DIR] [--gap-ms MS] NAME=INPUTS:WARMUP:MAX_RUNS...
//        [--check NAME SY.f32 [HIDDEN]]
//
// Reads the same inputs files as bench/encoder_bench (little-endian int32: magic "SYB1",
// n_batches, then per batch n_seqs, lens[n_seqs], ids[sum lens]) and runs them the way a client
// of ONNX Runtime does: each batch padded to its longest sequence, with the attention mask
// marking the real tokens. The session uses THREADS intra-op threads, one inter-op thread,
// sequential execution and every graph optimisation. Tensors are built before the clock starts
// (Switchyard's inputs are prepared before its clock starts too), so only session.run is timed.
//
// With --switchyard (what `make bench` uses) the script also starts `ENCODER_BENCH serve
// MODEL_DIR` as a child and alternates the engines pass by pass (S O O S S O ..., so a steady
// drift favours neither), which makes a burst of load from elsewhere on a shared machine hit
// both alike. Per workload: the first batch WARMUP times on each engine untimed, then timed
// passes over all batches, at least --min-runs (default 3) and at most MAX_RUNS each, and no
// more rounds once either engine's timed passes have taken --budget-ms (default 15000) in all.
// Before every timed pass the script idles --gap-ms (default 5), so that the threads the other
// engine keeps spinning for a moment after its pass have gone to sleep. Without --switchyard
// only ONNX Runtime runs, under the same rule.
//
// Prints one JSON line per engine and workload ("side": "switchyard" or "ort", the time of every
// pass, the median). With --check, compares the last hidden state of the first batch of workload
// NAME with Switchyard's (SY.f32: packed real tokens, [sum lens][HIDDEN] float32; with
// --switchyard the child writes it first and reports HIDDEN itself), prints the largest absolute
// difference over the real tokens as a JSON line, and exits with status 3 before any timing
// when it is 1e-3 or more.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');
const { startSwitchyard, median } = require('./switchyard_child');

const MAGIC = 0x31425953;
const CHECK_TOLERANCE = 1e-3;
// For a quantised Switchyard side (int8), equality to 1e-3 is not expected: with
// CHECK_MIN_COSINE set, the check instead asks every token's hidden state to be at least that
// close in cosine to ONNX Runtime's fp32 one.
const CHECK_MIN_COSINE = process.env.CHECK_MIN_COSINE ? Number(process.env.CHECK_MIN_COSINE) : null;

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

// Pads one batch to its longest sequence and wraps it as the int64 input tensors the graph takes
// (input_ids, attention_mask and token_type_ids; a model without token types, such as ModernBERT
// or a NewModel with type_vocab_size 0, has no token_type_ids input in its exported graph).
function makeFeeds(batch, inputNames) {
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
  const all = {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), dims),
  };
  const feeds = {};
  for (const name of inputNames) {
    if (!all[name]) fail(`the graph takes an input ${name} this script does not know`);
    feeds[name] = all[name];
  }
  return { seq, feeds };
}

// Compares the last hidden state of batch 0 of w with Switchyard's dump; exits 3 when it differs.
async function checkOutputs(session, w, path, h) {
  const batch = w.batches[0];
  const { seq, feeds } = w.prepared[0];
  const out = (await session.run(feeds)).last_hidden_state.data;
  const buf = fs.readFileSync(path);
  const sy = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  if (sy.length !== batch.ids.length * h) fail(`${path}: ${sy.length} floats, expected ${batch.ids.length * h}`);
  let maxDiff = 0;
  let minCos = 1;
  let at = 0;
  for (let s = 0; s < batch.nSeqs; s++) {
    for (let t = 0; t < batch.lens[s]; t++, at++) {
      let dot = 0; let na = 0; let nb = 0;
      for (let j = 0; j < h; j++) {
        const a = out[(s * seq + t) * h + j]; const b = sy[at * h + j];
        const d = Math.abs(a - b);
        // A NaN on either side must fail the check, so it is counted as an infinite difference.
        maxDiff = Math.max(maxDiff, Number.isNaN(d) ? Infinity : d);
        dot += a * b; na += a * a; nb += b * b;
      }
      const c = dot / Math.sqrt(na * nb);
      minCos = Math.min(minCos, Number.isNaN(c) ? -1 : c);
    }
  }
  console.log(JSON.stringify({ side: 'ort', kind: 'check', workload: w.name, sequences: batch.nSeqs,
    tokens: batch.ids.length, max_abs_diff: maxDiff, min_cosine: minCos,
    tolerance: CHECK_TOLERANCE, min_cosine_required: CHECK_MIN_COSINE }));
  process.stderr.write(`ort_bench: check on ${w.name} batch 0: max abs diff ${maxDiff.toExponential(3)}, min token cosine ${minCos.toFixed(6)}\n`);
  const ok = CHECK_MIN_COSINE != null ? minCos >= CHECK_MIN_COSINE : maxDiff < CHECK_TOLERANCE;
  if (!ok) process.exit(3);
}

function report(side, w, ms, extra) {
  console.log(JSON.stringify({ side, workload: w.name, batches: w.batches.length, tokens: w.tokens, ...extra,
    median_ms: +median(ms).toFixed(3), runs_ms: ms.map((x) => +x.toFixed(3)) }));
  process.stderr.write(`ort_bench: ${side.padEnd(10)} ${w.name.padEnd(8)} median ` +
    `${median(ms).toFixed(2).padStart(9)} ms over ${ms.length} runs\n`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 3) {
    fail('usage: node ort_bench.js MODEL.onnx THREADS [--min-runs N] [--budget-ms MS] ' +
      '[--switchyard ENCODER_BENCH MODEL_DIR] NAME=INPUTS:WARMUP:MAX_RUNS... [--check NAME SY.f32 [HIDDEN]]');
  }
  const [modelPath, threadsArg] = args;
  const threads = parseInt(threadsArg, 10);
  const workloads = [];
  const specs = [];
  let check = null;
  let peer = null;
  let minRuns = 3;
  let budgetMs = 15000;
  let gapMs = 5;
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--min-runs' && i + 1 < args.length) {
      minRuns = parseInt(args[++i], 10);
    } else if (args[i] === '--budget-ms' && i + 1 < args.length) {
      budgetMs = parseFloat(args[++i]);
    } else if (args[i] === '--gap-ms' && i + 1 < args.length) {
      gapMs = parseFloat(args[++i]);
    } else if (args[i] === '--switchyard' && i + 2 < args.length) {
      peer = { bin: args[i + 1], dir: args[i + 2] };
      i += 2;
    } else if (args[i] === '--check' && i + 2 < args.length) {
      check = { name: args[i + 1], path: args[i + 2] };
      i += 2;
      if (i + 1 < args.length && /^\d+$/.test(args[i + 1])) check.hidden = parseInt(args[++i], 10);
    } else {
      const m = /^([^=]+)=(.+):(\d+):(\d+)$/.exec(args[i]);
      if (!m || parseInt(m[4], 10) <= 0) fail(`bad argument ${args[i]} (NAME=INPUTS:WARMUP:MAX_RUNS)`);
      workloads.push({ name: m[1], path: m[2], warmup: parseInt(m[3], 10), maxRuns: parseInt(m[4], 10) });
      specs.push(args[i]);
    }
  }

  const t0 = performance.now();
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // ORT's intra-op workers spin while idle by default, and on a 2-core machine that spinning
    // slows whatever else runs, Switchyard's passes included. ORT_SPINNING=0 turns it off (at
    // some cost to ORT's own small-batch latency); the default keeps ORT's default.
    extra: { session: { intra_op: { allow_spinning: process.env.ORT_SPINNING === '0' ? '0' : '1' } } },
  });
  process.stderr.write(`ort_bench: loaded ${modelPath} in ${(performance.now() - t0).toFixed(0)} ms ` +
    `(onnxruntime ${ort.env.versions.node}, ${threads} threads, spinning ${process.env.ORT_SPINNING === '0' ? 'off' : 'on'})\n`);
  for (const w of workloads) {
    w.batches = loadInputs(w.path);
    w.prepared = w.batches.map((b) => makeFeeds(b, session.inputNames));
    w.tokens = w.batches.reduce((a, b) => a + b.ids.length, 0);
    w.padded = w.prepared.reduce((a, p, i) => a + p.seq * w.batches[i].nSeqs, 0);
  }
  const sy = peer ? await startSwitchyard(peer.bin, peer.dir, threads, specs) : null;

  if (check) {
    const w = workloads.find((x) => x.name === check.name);
    if (!w) fail(`--check ${check.name}: no such workload`);
    if (sy) {
      if ((await sy.ask(`dump ${w.name} ${check.path}`)) !== 'ok') fail('switchyard: dump failed');
      check.hidden = sy.hidden;
    }
    if (!check.hidden) fail('--check without --switchyard needs HIDDEN');
    await checkOutputs(session, w, check.path, check.hidden);
  }

  const pause = () => new Promise((resolve) => setTimeout(resolve, gapMs));
  const ortPass = async (w) => {
    if (gapMs > 0) await pause();
    const s = process.hrtime.bigint();
    for (const p of w.prepared) await session.run(p.feeds);
    return Number(process.hrtime.bigint() - s) / 1e6;
  };
  const syPass = async (w) => {
    if (gapMs > 0) await pause();
    const reply = await sy.ask(`pass ${w.name}`);
    if (!reply.startsWith('ms ')) fail(`switchyard: unexpected reply ${reply}`);
    return parseFloat(reply.split(' ')[1]);
  };
  const sum = (v) => v.reduce((a, x) => a + x, 0);
  for (const w of workloads) {
    const ortMs = [];
    const syMs = [];
    if (sy && (await sy.ask(`warm ${w.name} ${w.warmup}`)) !== 'ok') fail('switchyard: warm-up failed');
    for (let r = 0; r < w.warmup; r++) await session.run(w.prepared[0].feeds);
    for (let round = 0; ; round++) {
      const spent = Math.max(sum(ortMs), sum(syMs));
      if (round >= w.maxRuns || (round >= minRuns && spent >= budgetMs)) break;
      // Who goes first alternates, so that neither engine always runs right after the other.
      if (sy && round % 2 === 0) syMs.push(await syPass(w));
      ortMs.push(await ortPass(w));
      if (sy && round % 2 === 1) syMs.push(await syPass(w));
    }
    if (sy) report('switchyard', w, syMs, {});
    report('ort', w, ortMs, { padded_tokens: w.padded });
  }
  if (sy) sy.close();
}

main().catch((e) => fail(e.stack || String(e)));
