// The official `openai` npm client, unchanged, calling routes whose upstreams speak Anthropic's
// Messages API and Google's Gemini API (tests/integration/providers.sh runs it against the
// scripted upstream): plain and streamed completions, tool calls, usage, a provider's refusal
// as the client's own error class, images, JSON answers (response_format), n and seed, and
// what a provider cannot take as a 400 (BadRequestError).
// Usage: node openai_providers.mjs URL   (prints "ok: N checks")
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [url] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
let checks = 0;
const msgs = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }];

for (const [route, model] of [['claude', 'echo-claude'], ['gem', 'echo-gem']]) {
  const { data, response } = await client.chat.completions
    .create({ model: route, messages: msgs, max_tokens: 50, temperature: 0.2 })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content, `[${model}] hello there`);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0, JSON.stringify(data.usage));
  assert.equal(response.headers.get('x-switchyard-route'), route);
  assert.ok(Number(response.headers.get('x-switchyard-cost-usd')) > 0);
  checks++;

  const stream = await client.chat.completions.create({
    model: route, messages: msgs, stream: true, stream_options: { include_usage: true },
  });
  let text = '', chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  assert.ok(chunks >= 4, `${route}: ${chunks} chunks`);
  assert.equal(text, `[${model}] hello there`);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0, `${route} stream usage`);
  checks++;

  const tools = [{ type: 'function', function: { name: 'weather', description: 'the weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const t = await client.chat.completions.create({ model: `${route}-tool`, messages: msgs, tools });
  assert.equal(t.choices[0].finish_reason, 'tool_calls');
  assert.equal(t.choices[0].message.tool_calls[0].function.name, 'weather');
  assert.deepEqual(JSON.parse(t.choices[0].message.tool_calls[0].function.arguments), { city: 'Paris' });
  checks++;

  const ts = await client.chat.completions.create({ model: `${route}-tool`, messages: msgs, tools, stream: true });
  let name = '', args = '', tfinish = null;
  for await (const chunk of ts) {
    const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
    if (tc?.function?.name) name += tc.function.name;
    if (tc?.function?.arguments) args += tc.function.arguments;
    tfinish = chunk.choices[0]?.finish_reason ?? tfinish;
  }
  assert.equal(name, 'weather');
  assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  assert.equal(tfinish, 'tool_calls');
  checks++;

  await assert.rejects(client.chat.completions.create({ model: `${route}-bad`, messages: msgs }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 502 && /refused the request \(HTTP 400: /.test(e.message));
  checks++;
}
// images, JSON answers, n and seed (what each provider can take; a 400 names what it cannot)
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==';
const imgMsgs = [{ role: 'user', content: [{ type: 'text', text: 'what is this?' },
  { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } }] }];
const place = { type: 'json_schema', json_schema: { name: 'place', strict: true, schema: {
  type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } };
for (const route of ['claude', 'gem']) {
  const i = await client.chat.completions.create({ model: route, messages: imgMsgs });
  assert.equal(i.choices[0].finish_reason, 'stop');
  checks++;
  const j = await client.chat.completions.create({ model: route, messages: msgs, response_format: place });
  assert.deepEqual(JSON.parse(j.choices[0].message.content), { city: 'Paris' });
  assert.equal(j.choices[0].finish_reason, 'stop');
  assert.equal(j.choices[0].message.tool_calls, undefined);
  checks++;
  const js = await client.chat.completions.create({ model: route, messages: msgs, response_format: { type: 'json_object' }, stream: true });
  let jtext = '';
  for await (const chunk of js) jtext += chunk.choices[0]?.delta?.content ?? '';
  assert.deepEqual(JSON.parse(jtext), { city: 'Paris' });
  checks++;
}
const n2 = await client.chat.completions.create({ model: 'gem', messages: msgs, n: 2, seed: 7 });
assert.deepEqual(n2.choices.map((c) => c.index), [0, 1]);
assert.equal(n2.choices[1].message.content, '[echo-gem] hello there #1');
checks++;
for (const [extra, what] of [[{ n: 2 }, /n: anthropic upstreams give one choice per request/],
  [{ seed: 7 }, /seed: anthropic upstreams take no seed/]]) {
  await assert.rejects(client.chat.completions.create({ model: 'claude', messages: msgs, ...extra }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && what.test(e.message));
  checks++;
}
const bad = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,%%%' } }] }];
await assert.rejects(client.chat.completions.create({ model: 'gem', messages: bad }),
  (e) => e instanceof OpenAI.BadRequestError && /messages\[0\]\.content\[0\]: image_url\.url is not a base64 data URL/.test(e.message));
checks++;
console.log(`ok: ${checks} checks`);
