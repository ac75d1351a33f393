// LangChain JS's OpenAIEmbeddings pointed at Switchyard: no code change beyond the base URL.
//   ./switchyard serve &          (serves the built-in use-lite model on 127.0.0.1:8080)
//   cd examples/langchain-js && npm install --ignore-scripts && node embed.mjs
import { OpenAIEmbeddings } from '@langchain/openai';

const embeddings = new OpenAIEmbeddings({
  model: process.env.SY_MODEL ?? 'use-lite',
  apiKey: process.env.SY_API_KEY ?? 'unused', // any string when the server runs without keys
  configuration: { baseURL: process.env.SY_URL ?? 'http://127.0.0.1:8080/v1' },
});

const docs = await embeddings.embedDocuments(['Switchyard serves small models.', 'Trains change tracks here.']);
const query = await embeddings.embedQuery('Where do trains switch tracks?');
const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) /
  Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
console.log(`dims ${query.length}; similarity to each document:`, docs.map((d) => cos(query, d).toFixed(3)));
