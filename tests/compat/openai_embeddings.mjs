// The official `openai` npm client, unchanged, against Switchyard's /v1/embeddings: the default
// (base64, decoded by the client), explicit floats, and a 404 mapped to the client's own error.
// Usage: node openai_embeddings.mjs URL TOKEN EXPECT.json   (prints "ok: N checks")
import OpenAI from 'openai';
import fs from 'node:fs';
import assert from 'node:assert/strict';

const [url, token, expectFile] = process.argv.slice(2);
const exp = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: token || 'unused', maxRetries: 0 });
let checks = 0;

function close(got, want, what) {
  assert.equal(got.length, want.length, `${what}: dims`);
  const err = Math.max(...got.map((x, j) => Math.abs(x - want[j])));
  assert.ok(err < 1e-6, `${what}: max abs diff ${err}`);
  checks++;
}

const r = await client.embeddings.create({ model: 'bert', input: exp.texts });
assert.equal(r.data.length, exp.texts.length);
r.data.forEach((d, i) => close(d.embedding, exp.dense[d.index], `base64 item ${i}`));
assert.ok(r.usage.prompt_tokens > 0);
checks++;

const f = await client.embeddings.create({ model: 'bert', input: exp.texts[0], encoding_format: 'float' });
close(f.data[0].embedding, exp.dense[0], 'float');

await assert.rejects(client.embeddings.create({ model: 'no-such-model', input: 'x' }),
  (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
checks++;
console.log(`ok: ${checks} checks`);
