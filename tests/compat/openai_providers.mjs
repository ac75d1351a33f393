// The official `openai` npm client, unchanged, calling routes whose upstreams speak Anthropic's
// Messages API and Google's Gemini API (tests/integration/providers.sh runs it against the
// scripted upstream): plain and streamed completions, tool calls, usage, and a provider's
// refusal as the client's own error class.
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
console.log(`ok: ${checks} checks`);
