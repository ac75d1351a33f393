// The official `openai` npm client, unchanged, calling /v1/chat/completions through a Switchyard
// route (tests/integration/chat.sh runs it against a scripted upstream): a plain completion, a
// streamed one read chunk by chunk, the routing headers through `withResponse()`, and errors
// mapped to the client's own classes (404 unknown route, 429 spent budget).
// Usage: node openai_chat.mjs URL   (prints "ok: N checks")
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [url] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
let checks = 0;

const r = await client.chat.completions.create({
  model: 'triage',
  messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'I need a refund' }],
});
assert.equal(r.choices[0].message.content, '[echo-big] I need a refund');
assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
checks++;

const { data, response } = await client.chat.completions
  .create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] })
  .withResponse();
assert.equal(data.choices[0].message.content, '[echo-small] hi');
assert.equal(response.headers.get('x-switchyard-route'), 'plain');
assert.equal(response.headers.get('x-switchyard-model'), 'small');
checks++;

const stream = await client.chat.completions.create({
  model: 'plain', messages: [{ role: 'user', content: 'stream please' }], stream: true,
});
let text = '', chunks = 0;
for await (const chunk of stream) {
  chunks++;
  text += chunk.choices[0]?.delta?.content ?? '';
}
assert.ok(chunks >= 3, `${chunks} chunks`);
assert.equal([...text].sort().join(''), [...'[echo-small] stream please'].sort().join(''));
checks++;

const synth = await client.chat.completions.create({
  model: 'careful', messages: [{ role: 'user', content: 'x' }], stream: true,
});
let s2 = '';
for await (const chunk of synth) s2 += chunk.choices[0]?.delta?.content ?? '';
assert.equal(JSON.parse(s2).answer, 42);
checks++;

await assert.rejects(client.chat.completions.create({ model: 'no-such-route', messages: [{ role: 'user', content: 'x' }] }),
  (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
checks++;
await assert.rejects(client.chat.completions.create({ model: 'budgeted', messages: [{ role: 'user', content: 'x' }] }),
  (e) => e instanceof OpenAI.RateLimitError && e.status === 429);
checks++;
console.log(`ok: ${checks} checks`);
