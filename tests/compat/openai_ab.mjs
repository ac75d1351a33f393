// The official `openai` npm client through a route with an A/B split and a shadow
// (tests/integration/ab_shadow.sh): the answer comes from the arm the headers name, the same
// request id always gets the same arm, and the shadow's answer is never what the client gets;
// models.list() and models.retrieve() see the routes and tasks.
// Usage: node openai_ab.mjs URL   (prints "ok: N checks")
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [url] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
let checks = 0;
const seen = new Set();
for (let i = 0; i < 12; i++) {
  const id = `npm-ab-${i}`;
  const arms = [];
  for (let k = 0; k < 2; k++) {
    const { data, response } = await client.chat.completions
      .create({ model: 'ab', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': id } })
      .withResponse();
    const arm = response.headers.get('x-switchyard-arm');
    assert.equal(response.headers.get('x-switchyard-model'), arm);
    assert.equal(data.choices[0].message.content, `[echo-${arm}] hi`);
    assert.equal(response.headers.get('x-switchyard-shadow'), 'sh');
    arms.push(arm);
  }
  assert.equal(arms[0], arms[1], `request id ${id} changed arms`);
  seen.add(arms[0]);
}
assert.deepEqual([...seen].sort(), ['a', 'b']);
checks++;
const s = await client.chat.completions.create({ model: 'ab', messages: [{ role: 'user', content: 'stream' }], stream: true });
let text = '';
for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
// the scripted upstream streams the characters interleaved: compare them sorted
const sorted = (t) => [...t].sort().join('');
assert.ok(sorted(text) === sorted('[echo-a] stream') || sorted(text) === sorted('[echo-b] stream'), text);
checks++;
// models.list() and models.retrieve() see the routes and tasks
const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
for (const id of ['ab', 'weighted', 'broken', 'retrieve']) assert.ok(ids.includes(id), `${id} not in ${ids}`);
const m = await client.models.retrieve('ab');
assert.equal(m.id, 'ab');
assert.equal(m.object, 'model');
await assert.rejects(client.models.retrieve('no-such-route'), (e) => e instanceof OpenAI.NotFoundError);
checks++;
console.log(`ok: ${checks} checks`);
