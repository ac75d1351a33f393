// The official `openai` npm client through a route whose LLM judge escalates
// (tests/integration/judge.sh): the answer comes from the candidate the judge passed, the
// x-switchyard-judge header gives the grades, and a streamed request gets the same answer as a
// synthesized stream.
// Usage: node openai_judge.mjs URL   (prints "ok: N checks")
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [url] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
let checks = 0;
const { data, response } = await client.chat.completions
  .create({ model: 'judged', messages: [{ role: 'user', content: 'npm question' }] })
  .withResponse();
assert.equal(data.choices[0].message.content, '[echo-q8] npm question');
assert.equal(response.headers.get('x-switchyard-model'), 'mid');
assert.equal(response.headers.get('x-switchyard-judge'), 'cheap=2 mid=8 (threshold 7 of 10)');
assert.ok(Number(response.headers.get('x-switchyard-cost-usd')) > 0);
checks++;
const s = await client.chat.completions.create({ model: 'judged', messages: [{ role: 'user', content: 'streamed' }], stream: true });
let text = '';
for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
assert.equal(text, '[echo-q8] streamed');
checks++;
console.log(`ok: ${checks} checks`);
