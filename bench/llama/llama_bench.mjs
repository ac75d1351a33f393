// The llama.cpp side of the comparisons with llama.cpp: the decoder embedders of `make
// bench-llama` (bench/llama/run.sh) and the BERT shapes of `make bench` (bench/run.sh);
// docs/PERFORMANCE.md sections 8 and 14.
//
//   node llama_bench.mjs MODEL.gguf THREADS --llama LLAMA_EMBED_BENCH
//        --switchyard ENCODER_BENCH MODEL_DIR
//        [--min-runs N] [--budget-ms MS] [--gap-ms MS] [--label L] [--check NAME]
//        NAME=INPUTS:WARMUP:MAX_RUNS...
//
// llama.cpp is built from source for this CPU by bench/llama/build_llama.sh and runs in its
// driver, `LLAMA_EMBED_BENCH serve MODEL.gguf THREADS SPECS...` (bench/llama/llama_embed_bench.c),
// started as a child that answers the same line protocol as Switchyard's: an embedding context
// (pooling from the GGUF: last token for qwen3, mean or CLS for bert), THREADS threads, the
// token ids given directly, every batch of a workload in ONE llama_decode (one sequence id per
// sequence) or one decode a sequence, whichever the driver's warm-up timed faster for that
// workload; the driver counts its llama_decode calls and each pass reports them ("decodes").
//
// Switchyard is `ENCODER_BENCH serve MODEL_DIR` (bench/encoder_bench.c) on the same weights in
// Hugging Face layout, started as a child; SY_BENCH_QUANTIZE=int8 in the environment runs its
// linear layers in int8. The engines alternate pass by pass (S L L S S L ..), after a check:
// every sequence of the first batch of the first workload (or of --check's), pooled as the GGUF
// declares ({arch}.pooling_type: last token, mean over the tokens, or the first token, computed
// on Switchyard's dumped last hidden state), compared with llama.cpp's pooled embedding by
// cosine: the lowest must be at least CHECK_MIN_COSINE (default 0.999; 0.99 for the q8_0 / int8
// pairing), so both sides are known to compute the same model before anything is timed.
//
// Inputs files are those of bench/encoder_bench.c (little-endian int32: magic "SYB1",
// n_batches, then per batch n_seqs, lens[n_seqs], ids[sum lens]). Only the model work is timed
// on either side. Prints one JSON line per engine and workload with every pass and the median.
import fs from 'fs';
import switchyardChild from '../peer/switchyard_child.js';

const { startSwitchyard, median } = switchyardChild;

const MAGIC = 0x31425953;

function fail(msg) {
  process.stderr.write(`llama_bench: ${msg}\n`);
  process.exit(2);
}

function loadInputs(path) {
  const buf = fs.readFileSync(path);
  const w = new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  if (w[0] >>> 0 !== MAGIC) fail(`${path}: bad magic`);
  const batches = [];
  let at = 2;
  for (let b = 0; b < w[1]; b++) {
    const nSeqs = w[at++];
    const lens = Array.from(w.subarray(at, at + nSeqs));
    at += nSeqs;
    const seqs = [];
    for (const n of lens) {
      seqs.push(Array.from(w.subarray(at, at + n)));
      at += n;
    }
    batches.push({ nSeqs, lens, seqs });
  }
  if (at !== w.length) fail(`${path}: trailing data`);
  return batches;
}

// Peak resident memory (VmHWM) of a process, in MiB.
function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(parseInt(m[1], 10) / 1024) : null;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 3) fail('usage: node llama_bench.mjs MODEL.gguf THREADS --llama BIN --switchyard BIN DIR NAME=INPUTS:WARMUP:MAX_RUNS...');
  const [modelPath, threadsArg] = args;
  const threads = parseInt(threadsArg, 10);
  const workloads = [];
  const specs = [];
  let peer = null;
  let llamaBin = null;
  let minRuns = 3;
  let budgetMs = 15000;
  let gapMs = 5;
  let label = 'llama.cpp';
  let checkName = null;
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--min-runs' && i + 1 < args.length) minRuns = parseInt(args[++i], 10);
    else if (args[i] === '--budget-ms' && i + 1 < args.length) budgetMs = parseFloat(args[++i]);
    else if (args[i] === '--gap-ms' && i + 1 < args.length) gapMs = parseFloat(args[++i]);
    else if (args[i] === '--label' && i + 1 < args.length) label = args[++i];
    else if (args[i] === '--check' && i + 1 < args.length) checkName = args[++i];
    else if (args[i] === '--llama' && i + 1 < args.length) llamaBin = args[++i];
    else if (args[i] === '--switchyard' && i + 2 < args.length) {
      peer = { bin: args[i + 1], dir: args[i + 2] };
      i += 2;
    } else {
      const m = /^([^=]+)=(.+):(\d+):(\d+)$/.exec(args[i]);
      if (!m) fail(`bad argument ${args[i]} (NAME=INPUTS:WARMUP:MAX_RUNS)`);
      workloads.push({ name: m[1], path: m[2], warmup: parseInt(m[3], 10), maxRuns: parseInt(m[4], 10) });
      specs.push(args[i]);
    }
  }
  if (!peer) fail('--switchyard ENCODER_BENCH MODEL_DIR is required');
  if (!llamaBin) fail('--llama LLAMA_EMBED_BENCH is required (bench/llama/build_llama.sh builds it)');
  for (const w of workloads) {
    w.batches = loadInputs(w.path);
    w.tokens = w.batches.reduce((a, b) => a + b.lens.reduce((x, y) => x + y, 0), 0);
  }
  // llama.cpp's driver speaks Switchyard's protocol ("ready N_EMBD" first; `serve MODEL THREADS
  // SPECS`), so the same child starter serves both sides.
  const ll = await startSwitchyard(llamaBin, modelPath, threads, specs);
  const pooling = await ll.ask('pooling');
  if (!['mean', 'cls', 'last'].includes(pooling)) fail(`llama.cpp: unexpected pooling ${pooling}`);
  const sy = await startSwitchyard(peer.bin, peer.dir, threads, specs);

  // The check: the same model on both sides, every sequence of the check batch.
  const w0 = checkName ? workloads.find((x) => x.name === checkName) : workloads[0];
  if (!w0) fail(`--check ${checkName}: no such workload`);
  const readDump = async (side, child, path) => {
    if ((await child.ask(`dump ${w0.name} ${path}`)) !== 'ok') fail(`${side}: dump failed`);
    const buf = fs.readFileSync(path);
    fs.unlinkSync(path);
    return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  };
  const tmp = `${process.env.TMPDIR || '/tmp'}/llama_bench.${process.pid}`;
  const syOut = await readDump('switchyard', sy, `${tmp}.sy.f32`);
  // llama.cpp's pooled embeddings of the batch, [n_seqs][n_embd], from one llama_decode.
  const llOut = await readDump('llama.cpp', ll, `${tmp}.ll.f32`);
  const h = sy.hidden;
  if (ll.hidden !== h) fail(`llama.cpp embedding has ${ll.hidden} dims, Switchyard ${h}`);
  if (llOut.length !== w0.batches[0].nSeqs * h) fail(`llama.cpp dump has ${llOut.length} floats`);
  const first = w0.batches[0];
  let minCos = 1; let maxDiff = 0; let at = 0;
  for (let s = 0; s < first.nSeqs; s++) {
    const n = first.lens[s];
    // Switchyard's pooled embedding of sequence s from its last hidden state [n][h].
    const pooled = new Float64Array(h);
    const from = pooling === 'last' ? n - 1 : 0;
    const to = pooling === 'mean' ? n : from + 1;
    for (let t = from; t < to; t++) for (let j = 0; j < h; j++) pooled[j] += syOut[(at + t) * h + j] / (to - from);
    at += n;
    const e = llOut.subarray(s * h, (s + 1) * h);
    let dot = 0; let na = 0; let nb = 0;
    for (let j = 0; j < h; j++) {
      dot += e[j] * pooled[j]; na += e[j] * e[j]; nb += pooled[j] * pooled[j];
      maxDiff = Math.max(maxDiff, Math.abs(e[j] - pooled[j]));
    }
    const c = dot / Math.sqrt(na * nb);
    minCos = Math.min(minCos, Number.isNaN(c) ? -1 : c);
  }
  if (at * h !== syOut.length) fail(`switchyard dump has ${syOut.length} floats, expected ${at * h}`);
  const need = Number(process.env.CHECK_MIN_COSINE || 0.999);
  // "cosine" is the lowest over the batch's sequences (one sequence on bench-llama's check).
  console.log(JSON.stringify({ side: label, kind: 'check', workload: w0.name, pooling, sequences: first.nSeqs,
    cosine: minCos, max_abs_diff: maxDiff, min_cosine_required: need }));
  process.stderr.write(`llama_bench: check on ${w0.name} batch 0 (${first.nSeqs} sequences, ${pooling} pooling): ` +
    `min cosine ${minCos.toFixed(6)}, max abs diff ${maxDiff.toExponential(3)}\n`);
  if (!(minCos >= need)) process.exit(3);

  const pause = () => new Promise((resolve) => setTimeout(resolve, gapMs));
  const llamaPass = async (w) => {
    if (gapMs > 0) await pause();
    const reply = await ll.ask(`pass ${w.name}`);
    const m = /^ms (\S+) decodes (\d+)$/.exec(reply);
    if (!m) fail(`llama.cpp: unexpected reply ${reply}`);
    w.decodes = parseInt(m[2], 10);
    return parseFloat(m[1]);
  };
  const syPass = async (w) => {
    if (gapMs > 0) await pause();
    const reply = await sy.ask(`pass ${w.name}`);
    if (!reply.startsWith('ms ')) fail(`switchyard: unexpected reply ${reply}`);
    return parseFloat(reply.split(' ')[1]);
  };
  const sum = (v) => v.reduce((a, x) => a + x, 0);
  const report = (side, w, ms, extra) => {
    console.log(JSON.stringify({ side, workload: w.name, tokens: w.tokens, ...extra, median_ms: +median(ms).toFixed(3),
      tokens_per_s: Math.round(w.tokens / (median(ms) / 1000)), runs_ms: ms.map((x) => +x.toFixed(3)) }));
    process.stderr.write(`llama_bench: ${side.padEnd(12)} ${w.name.padEnd(8)} median ${median(ms).toFixed(2).padStart(9)} ms ` +
      `over ${ms.length} runs${extra ? `, ${extra.decodes} llama_decode calls a pass` : ''}\n`);
  };
  for (const w of workloads) {
    const llMs = [];
    const syMs = [];
    if ((await sy.ask(`warm ${w.name} ${w.warmup}`)) !== 'ok') fail('switchyard: warm-up failed');
    if ((await ll.ask(`warm ${w.name} ${w.warmup}`)) !== 'ok') fail('llama.cpp: warm-up failed');
    for (let round = 0; ; round++) {
      const spent = Math.max(sum(llMs), sum(syMs));
      if (round >= w.maxRuns || (round >= minRuns && spent >= budgetMs)) break;
      if (round % 2 === 0) syMs.push(await syPass(w));
      llMs.push(await llamaPass(w));
      if (round % 2 === 1) syMs.push(await syPass(w));
    }
    report('switchyard', w, syMs);
    report(label, w, llMs, { batches: w.batches.length, sequences: w.batches.reduce((a, b) => a + b.nSeqs, 0),
      decodes: w.decodes });
  }
  // Peak resident memory of each side's process.
  console.log(JSON.stringify({ kind: 'rss', switchyard_mib: peakRssMiB(sy.pid), [label + '_mib']: peakRssMiB(ll.pid) }));
  sy.close();
  ll.close();
}

main().catch((e) => fail(e.stack || String(e)));
