// Tests for the JS SDK: against a real server (SY_URL, SY_TOKEN, SY_EXPECT set by
// tests/integration/sdk.sh) and against a scripted stub server for retries, errors and SSE.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import * as sy from '../index.js';

const { Client } = sy;
const URL = process.env.SY_URL;
const TOKEN = process.env.SY_TOKEN;

describe('real server', { skip: !URL && 'SY_URL not set (run tests/integration/sdk.sh)' }, () => {
  const c = new Client(URL, { apiKey: TOKEN, retryBudgetMs: 20000 });

  test('encode matches the CLI', async () => {
    const exp = JSON.parse(fs.readFileSync(process.env.SY_EXPECT, 'utf8'));
    const r = await c.encode('bert', exp.texts);
    assert.equal(r.model, 'bert');
    assert.deepEqual(r.items.map((it) => it.id), exp.texts.map((_, i) => `item-${i}`));
    r.dense.forEach((v, i) => {
      assert.equal(v.length, exp.dense[i].length);
      const err = Math.max(...v.map((x, j) => Math.abs(x - exp.dense[i][j])));
      assert.ok(err < 1e-6, `vector ${i}: ${err}`);
    });
  });

  test('ids, params, embeddings, models', async () => {
    const r = await c.encode('bert', [{ id: 'a', text: 'hello' }, 'world'], { normalize: false });
    assert.deepEqual(r.items.map((it) => it.id), ['a', 'item-1']);
    const v = await c.embeddings('bert', ['hello', 'world']);
    assert.equal(v.length, 2);
    assert.equal(v[0].length, 64);
    assert.ok((await c.models()).some((m) => m.id === 'bert'));
    assert.ok((await c.model('bert')).tasks.includes('encode'));
  });

  test('images (CLIP): bytes and imageItem, zero-shot score', async () => {
    const data = fs.readFileSync(new globalThis.URL('../../../tests/fixtures/images/wide.jpg', import.meta.url));
    const gold = JSON.parse(fs.readFileSync(new globalThis.URL('../../../tests/golden/clip-tiny.json', import.meta.url), 'utf8'));
    const want = gold.images.find((i) => i.image === 'wide.jpg').embed;
    const r = await c.encode('clip', [data, sy.imageItem(data, 'jpeg', 'w'), 'a cat']);
    assert.deepEqual(r.items.map((it) => it.id), ['item-0', 'w', 'item-2']);
    const norm = Math.sqrt(want.reduce((a, x) => a + x * x, 0));
    for (const v of r.dense.slice(0, 2)) assert.ok(v.reduce((a, x, j) => a + x * want[j], 0) / norm > 0.9999);
    const s = await c.score('clip', 'a photo of a cat', [sy.imageItem(data, undefined, 'a'), 'a dog']);
    assert.ok(Math.abs(s.scores.reduce((a, x) => a + x.score, 0) - 1) < 1e-4);
    await assert.rejects(c.encode('clip', [data.subarray(0, data.length >> 1)]), sy.InvalidInputError);
  });

  test('errors map to classes', async () => {
    await assert.rejects(c.encode('no-such-model', ['x']), (e) => e instanceof sy.ModelNotFoundError && e.status === 404 && !!e.requestId);
    await assert.rejects(c.encode('bert', ['x'], { output_types: ['nonsense'] }), sy.InvalidInputError);
    await assert.rejects(c.encode('bert', []), sy.InvalidInputError);
    await assert.rejects(c.score('bert', 'q', ['d']), (e) => e instanceof sy.InvalidInputError && e.detail.includes('bert'));
    await assert.rejects(c.encode('bert', [7]), TypeError);
  });

  test('score and rerank', async () => {
    const docs = ['Bananas are rich in potassium.', 'A switchyard is where railway cars are sorted onto tracks.', 'x'];
    const r = await c.score('ce', 'what is a switchyard?', docs.map((text, i) => ({ id: `d${i}`, text })));
    assert.deepEqual(r.scores.map((s) => s.rank), [0, 1, 2]);
    const rr = await c.rerank('ce', 'what is a switchyard?', docs, { topN: 2, returnDocuments: true });
    assert.equal(rr.length, 2);
    assert.equal(rr[0].index, Number(r.scores[0].item_id.slice(1)));
    assert.equal(rr[0].document, docs[rr[0].index]);
    await assert.rejects(c.encode('ce', ['x']), sy.InvalidInputError);
  });

  test('auth', { skip: !TOKEN && 'server without auth' }, async () => {
    await assert.rejects(new Client(URL).encode('bert', ['x']), (e) => e instanceof sy.UnauthorizedError && e.status === 401);
    assert.equal(await new Client(URL).health(), true);
  });
});

describe('stub server', () => {
  let server; let url; let script = []; let seen = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const [status, headers, payload] = script.length > 1 ? script.shift() : script[0];
        const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
        res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(data) });
        res.end(data);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.close());

  const OK = [200, {}, { model: 'm', items: [{ id: 'item-0', dense: { dims: 2, values: [1, 0] } }], timing: {} }];
  const LOADING = [503, { 'Retry-After': '0.1' }, { error: { code: 'MODEL_LOADING', message: 'loading' } }];

  test('retries 503 honouring Retry-After', async () => {
    script = [LOADING, LOADING, OK]; seen = [];
    const t0 = Date.now();
    const r = await new Client(url, { apiKey: 'k' }).encode('m', 'hi');
    assert.deepEqual(r.dense, [[1, 0]]);
    assert.equal(seen.length, 3);
    assert.ok(Date.now() - t0 >= 190);
    assert.equal(seen[0].headers.authorization, 'Bearer k');
    assert.deepEqual(JSON.parse(seen[0].body), { items: [{ text: 'hi' }] });
  });

  test('gives up after the budget', async () => {
    script = [[503, { 'Retry-After': '1' }, { error: { code: 'QUEUE_FULL', message: 'full' } }]]; seen = [];
    await assert.rejects(new Client(url, { retryBudgetMs: 2500 }).encode('m', 'hi'),
      (e) => e instanceof sy.UnavailableError && e.code === 'QUEUE_FULL' && e.retryAfter === 1);
    assert.equal(seen.length, 3);
  });

  test('no retry on 4xx; non-JSON errors; budget; connection refused', async () => {
    script = [[422, {}, { error: { code: 'INVALID_INPUT', message: 'too long' } }]]; seen = [];
    await assert.rejects(new Client(url).encode('m', 'hi'), sy.InvalidInputError);
    assert.equal(seen.length, 1);
    script = [[502, {}, '<html>bad gateway</html>']];
    await assert.rejects(new Client(url).encode('m', 'hi'), (e) => e instanceof sy.UpstreamError && e.detail.includes('bad gateway'));
    script = [[429, {}, { error: { code: 'BUDGET_EXHAUSTED', message: 'spent' } }]];
    await assert.rejects(new Client(url).chat('r', [{ role: 'user', content: 'hi' }]), sy.BudgetExhaustedError);
    await assert.rejects(new Client('http://127.0.0.1:9', { maxRetries: 1, retryBudgetMs: 2000 }).encode('m', 'x'), sy.ConnectionError);
  });

  test('request shapes: slash ids, score, extract, rerank', async () => {
    script = [OK]; seen = [];
    await new Client(url).encode('BAAI/bge-small-en-v1.5', 'x');
    assert.equal(seen[0].url, '/v1/encode/BAAI/bge-small-en-v1.5');
    script = [[200, {}, { model: 'ce', scores: [{ item_id: 'item-1', score: 0.9, rank: 0 }] }]];
    const s = await new Client(url).score('ce', 'q', ['a', 'b']);
    assert.equal(s.scores[0].item_id, 'item-1');
    assert.deepEqual(JSON.parse(seen.at(-1).body), { query: { text: 'q' }, items: [{ text: 'a' }, { text: 'b' }] });
    script = [[200, {}, { model: 'g', items: [{ id: 'item-0', entities: [{ text: 'Tim Cook', label: 'person', score: 0.9, start: 0, end: 8 }] }] }]];
    const e = await new Client(url).extract('g', 'Tim Cook is the CEO of Apple.', ['person']);
    assert.equal(e.items[0].entities[0].label, 'person');
    assert.deepEqual(JSON.parse(seen.at(-1).body).params, { labels: ['person'] });
    script = [[200, {}, { results: [{ index: 1, relevance_score: 0.8, document: { text: 'b' } }] }]];
    const rr = await new Client(url).rerank('ce', 'q', ['a', 'b'], { topN: 1, returnDocuments: true });
    assert.deepEqual(rr, [{ index: 1, relevanceScore: 0.8, document: 'b' }]);
  });

  test('chat stream', async () => {
    const ev = ['Hel', 'lo'].map((w) => `data: ${JSON.stringify({ choices: [{ delta: { content: w } }] })}\n\n`).join('');
    script = [[200, { 'Content-Type': 'text/event-stream' }, `${ev}data: [DONE]\n\n`]]; seen = [];
    let text = '';
    for await (const ch of await new Client(url).chat('r', [{ role: 'user', content: 'hi' }], { stream: true })) text += ch.choices[0].delta.content;
    assert.equal(text, 'Hello');
    assert.equal(JSON.parse(seen[0].body).stream, true);
  });
});
