// The official `cohere-ai` npm client, unchanged, against Switchyard's rerank: the v2 client
// (POST /v2/rerank) and the v1 client (POST /v1/rerank, with return_documents), compared with
// the scores Switchyard's own /v1/score gives for the same pairs.
// Usage: node cohere_rerank.mjs URL TOKEN MODEL   (prints "ok: N checks")
import { CohereClient, CohereClientV2 } from 'cohere-ai';
import assert from 'node:assert/strict';

const [url, token, model] = process.argv.slice(2);
const query = 'what is a switchyard?';
const documents = ['Bananas are rich in potassium.', 'A switchyard is where railway cars are sorted onto tracks.',
  'Paris is the capital of France.'];
let checks = 0;

const res = await fetch(`${url}/v1/score/${model}`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
  body: JSON.stringify({ query: { text: query }, items: documents.map((text, i) => ({ id: String(i), text })) }),
});
const own = (await res.json()).scores.map((s) => [Number(s.item_id), s.score]);

const v2 = new CohereClientV2({ token, environment: url });
const r2 = await v2.rerank({ model, query, documents, topN: 3 });
assert.deepEqual(r2.results.map((r) => r.index), own.map((o) => o[0]));
r2.results.forEach((r, k) => assert.ok(Math.abs(r.relevanceScore - own[k][1]) < 1e-6));
checks++;

const v1 = new CohereClient({ token, environment: url });
const r1 = await v1.rerank({ model, query, documents, topN: 1, returnDocuments: true });
assert.equal(r1.results.length, 1);
assert.equal(r1.results[0].index, own[0][0]);
assert.equal(r1.results[0].document.text, documents[own[0][0]]);
checks++;

await assert.rejects(v2.rerank({ model: 'no-such-model', query, documents }), (e) => e.statusCode === 404);
checks++;
console.log(`ok: ${checks} checks`);
