// The ONNX Runtime side of Switchyard's side-by-side benchmark (bench/run.sh, docs/PERFORMANCE.md).
//
//   node ort_bench.js MODEL.onnx THREADS [--min-runs N] [--budget-ms MS]
//        [--switchyard ENCODER_BENCH MODEL_DIR] [--gap-ms MS] [--also SIDE MODEL2.onnx]
//        [--lone NAME GAPS_MS N] NAME=INPUTS:WARMUP:MAX_RUNS... [--check NAME SY.f32 [HIDDEN]]
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
// --also SIDE MODEL2.onnx (repeatable) opens one more ONNX Runtime session on another graph of the
// same model, e.g. the int8 graph tools/reference/quantize_onnx.py writes, and times it in the
// same rounds, reported as "side": SIDE. The engines of a round then take turns in rotation (the
// first one of round r is engine r mod n_engines). Before any timing, every such session's last
// hidden state on the first batch of the first workload (or of --check's) is compared with
// MODEL.onnx's: each real token's cosine must be at least 0.99 (exit status 3 otherwise), as a
// quantised graph is expected to agree.
//
// --lone NAME GAPS_MS N (e.g. --lone 1x16 20,200 30) measures sporadic traffic after the
// workloads: for each gap, N rounds in which every engine in turn idles GAP ms and then runs the
// first batch of workload NAME once, alone; one JSON line per engine and gap ("kind": "lone",
// p50_ms, p99_ms: nearest rank, every time). An engine whose idle threads have gone to sleep
// during the gap pays for waking them here.
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
// What an --also graph (ORT's own int8) must keep of the fp32 graph's hidden states, per token.
const ALSO_MIN_COSINE = 0.99;

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

// Compares an --also session's last hidden state on batch 0 of w with the main session's (every
// real token's cosine >= ALSO_MIN_COSINE); exits 3 when it is lower.
async function checkAlso(session, a, w) {
  const batch = w.batches[0];
  const { seq, feeds } = w.prepared[0];
  const ref = (await session.run(feeds)).last_hidden_state;
  const out = (await a.session.run(feeds)).last_hidden_state.data;
  const h = ref.dims[2];
  let minCos = 1;
  let maxDiff = 0;
  for (let s = 0; s < batch.nSeqs; s++) {
    for (let t = 0; t < batch.lens[s]; t++) {
      let dot = 0; let na = 0; let nb = 0;
      for (let j = 0; j < h; j++) {
        const x = ref.data[(s * seq + t) * h + j]; const y = out[(s * seq + t) * h + j];
        const d = Math.abs(x - y);
        maxDiff = Math.max(maxDiff, Number.isNaN(d) ? Infinity : d);
        dot += x * y; na += x * x; nb += y * y;
      }
      const c = dot / Math.sqrt(na * nb);
      minCos = Math.min(minCos, Number.isNaN(c) ? -1 : c);
    }
  }
  console.log(JSON.stringify({ side: a.side, kind: 'check', against: 'ort', workload: w.name,
    sequences: batch.nSeqs, tokens: batch.ids.length, max_abs_diff: maxDiff, min_cosine: minCos,
    min_cosine_required: ALSO_MIN_COSINE }));
  process.stderr.write(`ort_bench: check ${a.side} against the fp32 graph on ${w.name} batch 0: ` +
    `max abs diff ${maxDiff.toExponential(3)}, min token cosine ${minCos.toFixed(6)}\n`);
  if (!(minCos >= ALSO_MIN_COSINE)) process.exit(3);
}

// Nearest-rank percentile of v (0 < p <= 100).
function percentile(v, p) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

// The --lone rows: lone requests of the first batch of workload lone.name after idle gaps.
async function runLone(lone, workloads, session, also, sy) {
  const w = workloads.find((x) => x.name === lone.name);
  if (!w) fail(`--lone ${lone.name}: no such workload`);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const ortOnce = (sess) => async () => {
    const s = process.hrtime.bigint();
    await sess.run(w.prepared[0].feeds);
    return Number(process.hrtime.bigint() - s) / 1e6;
  };
  const engines = [];
  if (sy) {
    engines.push({ side: 'switchyard', once: async () => {
      const reply = await sy.ask(`lone ${w.name}`);
      if (!reply.startsWith('ms ')) fail(`switchyard: unexpected reply ${reply}`);
      return parseFloat(reply.split(' ')[1]);
    } });
  }
  engines.push({ side: 'ort', once: ortOnce(session) });
  for (const a of also) engines.push({ side: a.side, once: ortOnce(a.session) });
  for (const gap of lone.gaps) {
    const ms = engines.map(() => []);
    for (let round = 0; round < lone.n; round++) {
      for (let i = 0; i < engines.length; i++) {
        const k = (round + i) % engines.length;
        await sleep(gap);
        ms[k].push(await engines[k].once());
      }
    }
    engines.forEach((e, k) => {
      console.log(JSON.stringify({ side: e.side, kind: 'lone', workload: w.name, gap_ms: gap,
        p50_ms: +percentile(ms[k], 50).toFixed(3), p99_ms: +percentile(ms[k], 99).toFixed(3),
        runs_ms: ms[k].map((x) => +x.toFixed(3)) }));
      process.stderr.write(`ort_bench: ${e.side.padEnd(10)} lone ${w.name} after ${gap} ms idle: ` +
        `p50 ${percentile(ms[k], 50).toFixed(2)} ms, p99 ${percentile(ms[k], 99).toFixed(2)} ms\n`);
    });
  }
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
  const also = [];
  let lone = null;
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--min-runs' && i + 1 < args.length) {
      minRuns = parseInt(args[++i], 10);
    } else if (args[i] === '--budget-ms' && i + 1 < args.length) {
      budgetMs = parseFloat(args[++i]);
    } else if (args[i] === '--gap-ms' && i + 1 < args.length) {
      gapMs = parseFloat(args[++i]);
    } else if (args[i] === '--lone' && i + 3 < args.length) {
      lone = { name: args[i + 1], gaps: args[i + 2].split(',').map(Number), n: parseInt(args[i + 3], 10) };
      if (lone.gaps.some((g) => !(g >= 0)) || !(lone.n > 0)) fail(`bad --lone ${args.slice(i + 1, i + 4).join(' ')}`);
      i += 3;
    } else if (args[i] === '--also' && i + 2 < args.length) {
      also.push({ side: args[i + 1], path: args[i + 2] });
      i += 2;
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
  const options = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // ORT's intra-op workers spin while idle by default, and on a 2-core machine that spinning
    // slows whatever else runs, Switchyard's passes included. ORT_SPINNING=0 turns it off (at
    // some cost to ORT's own small-batch latency); the default keeps ORT's default.
    extra: { session: { intra_op: { allow_spinning: process.env.ORT_SPINNING === '0' ? '0' : '1' } } },
  };
  const session = await ort.InferenceSession.create(modelPath, options);
  for (const a of also) {
    a.session = await ort.InferenceSession.create(a.path, options);
    process.stderr.write(`ort_bench: also ${a.side}: loaded ${a.path}\n`);
  }
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

  for (const a of also) {
    const w = check ? workloads.find((x) => x.name === check.name) : workloads[0];
    await checkAlso(session, a, w);
  }

  const pause = () => new Promise((resolve) => setTimeout(resolve, gapMs));
  const ortPassOf = (sess) => async (w) => {
    if (gapMs > 0) await pause();
    const s = process.hrtime.bigint();
    for (const p of w.prepared) await sess.run(p.feeds);
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
    // The engines of this comparison, each with its timed passes.
    const engines = [];
    if (sy) engines.push({ side: 'switchyard', pass: syPass, ms: [] });
    engines.push({ side: 'ort', pass: ortPassOf(session), ms: [] });
    for (const a of also) engines.push({ side: a.side, pass: ortPassOf(a.session), ms: [] });
    if (sy && (await sy.ask(`warm ${w.name} ${w.warmup}`)) !== 'ok') fail('switchyard: warm-up failed');
    for (const sess of [session, ...also.map((a) => a.session)]) {
      for (let r = 0; r < w.warmup; r++) await sess.run(w.prepared[0].feeds);
    }
    for (let round = 0; ; round++) {
      const spent = Math.max(...engines.map((e) => sum(e.ms)));
      if (round >= w.maxRuns || (round >= minRuns && spent >= budgetMs)) break;
      // Who goes first rotates (with two engines: alternates), so that no engine always runs
      // right after the same other one.
      for (let i = 0; i < engines.length; i++) {
        const e = engines[(round + i) % engines.length];
        e.ms.push(await e.pass(w));
      }
    }
    for (const e of engines) report(e.side, w, e.ms, e.side === 'switchyard' ? {} : { padded_tokens: w.padded });
  }
  if (lone) await runLone(lone, workloads, session, also, sy);
  if (sy) sy.close();
}

main().catch((e) => fail(e.stack || String(e)));
