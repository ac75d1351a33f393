// The ONNX Runtime side of bench/images.sh: a CLIP vision tower exported by
// tools/reference/export_clip_onnx.py, fed the same preprocessed pixels (pixels.f32) in batches
// of BATCH copies, THREADS intra-op threads, every graph optimisation; checks the first output
// against PyTorch's embedding (embed.f32, cosine >= 0.9999) before timing, then prints one JSON
// line {"side":"ort","batch","runs","images_per_s","ms_per_batch"} with the median of RUNS
// timed runs after a warm-up run. Only session.run is timed (ONNX Runtime takes pixels, so
// decoding and preprocessing are not in its time; Switchyard's numbers include them).
//
//   node ort_images.js MODEL_DIR BATCH RUNS THREADS
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const [dir, batchS, runsS, threadsS] = process.argv.slice(2);
  const batch = Number(batchS), runs = Number(runsS), threads = Number(threadsS);
  const px = f32(path.join(dir, 'pixels.f32'));
  const ref = f32(path.join(dir, 'embed.f32'));
  const s = Math.round(Math.sqrt(px.length / 3));
  const data = new Float32Array(batch * px.length);
  for (let i = 0; i < batch; i++) data.set(px, i * px.length);
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { pixel_values: new ort.Tensor('float32', data, [batch, 3, s, s]) };
  const first = (await session.run(feeds)).image_embeds.data;
  let dot = 0, a = 0, b = 0;
  for (let i = 0; i < ref.length; i++) { dot += first[i] * ref[i]; a += first[i] ** 2; b += ref[i] ** 2; }
  const cos = dot / Math.sqrt(a * b);
  if (!(cos >= 0.9999)) { process.stderr.write(`ort_images: cosine ${cos} to PyTorch\n`); process.exit(3); }
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const med = ms[Math.floor(runs / 2)];
  console.log(JSON.stringify({ side: 'ort', model: dir, batch, runs, images_per_s: +(batch * 1000 / med).toFixed(2),
    ms_per_batch: +med.toFixed(1), cosine_to_pytorch: +cos.toFixed(7) }));
}

main().catch((e) => { process.stderr.write(`ort_images: ${e.stack || e}\n`); process.exit(2); });
