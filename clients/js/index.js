// Switchyard client: fetch-based, no runtime dependencies (Node >= 18, browsers, Deno, Bun).
// Mirrors the Python SDK (clients/python): encode / score / rerank / extract / embeddings / chat,
// errors mapped to classes, and retries on 503 and connection failures that honour Retry-After
// within a total budget.

export class SwitchyardError extends Error {
  constructor(message, { code = 'ERROR', status = 0, requestId = null, retryAfter = null } = {}) {
    super(`${code}: ${message}${status ? ` (HTTP ${status})` : ''}`);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.detail = message;
  }
}
export class InvalidInputError extends SwitchyardError {}
export class UnauthorizedError extends SwitchyardError {}
export class ModelNotFoundError extends SwitchyardError {}
export class UnavailableError extends SwitchyardError {}
export class BudgetExhaustedError extends SwitchyardError {}
export class UpstreamError extends SwitchyardError {}
export class ConnectionError extends SwitchyardError {}

function errorFor(status, code, message, extra) {
  let Cls = SwitchyardError;
  if (code === 'BUDGET_EXHAUSTED') Cls = BudgetExhaustedError;
  else if (code === 'MODEL_NOT_FOUND' || status === 404) Cls = ModelNotFoundError;
  else if (status === 401 || status === 403) Cls = UnauthorizedError;
  else if (status === 400 || status === 413 || status === 422) Cls = InvalidInputError;
  else if (status === 503) Cls = UnavailableError;
  else if (status === 502 || status === 504) Cls = UpstreamError;
  return new Cls(message, { code, status, ...extra });
}

/** An image item for encode and score with a CLIP or SigLIP model: the file's bytes (a
 * Uint8Array or Buffer) sent base64 as SIE's {images: [{data, format}]}; format is 'jpeg',
 * 'png' or 'webp' (optional: the server tells from the bytes). */
export function imageItem(bytes, format = undefined, id = undefined) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('imageItem: expected a Uint8Array or Buffer');
  const img = { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  if (format) img.format = format;
  const item = { images: [img] };
  if (id !== undefined) item.id = id;
  return item;
}

function toItems(texts) {
  const list = typeof texts === 'string' || texts instanceof Uint8Array ? [texts] : texts;
  if (!Array.isArray(list)) throw new TypeError('texts: expected a string or an array');
  return list.map((t, i) => {
    if (typeof t === 'string') return { text: t };
    if (t instanceof Uint8Array) return imageItem(t);
    if (t && typeof t === 'object' && (typeof t.text === 'string' || Array.isArray(t.images))) return t;
    throw new TypeError(`item ${i}: expected a string, image bytes, {text} or {images}`);
  });
}

const quoteModel = (m) => m.split('/').map(encodeURIComponent).join('/');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Client {
  constructor(baseUrl = 'http://127.0.0.1:8080', { apiKey = null, timeoutMs = 60000, maxRetries = 5, retryBudgetMs = 30000 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.timeoutMs = timeoutMs;
    this.maxRetries = maxRetries;
    this.retryBudgetMs = retryBudgetMs;
  }

  async _fetch(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    const deadline = Date.now() + this.retryBudgetMs;
    for (let attempt = 1; ; attempt++) {
      let err;
      try {
        const res = await fetch(this.baseUrl + path, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (res.ok) return res;
        err = await this._error(res);
        if (res.status !== 503) throw err;
      } catch (e) {
        if (e instanceof SwitchyardError && e.status !== 503) throw e;
        err = e instanceof SwitchyardError ? e
          : new ConnectionError(`cannot reach ${this.baseUrl}: ${e.cause?.code || e.message}`, { code: 'CONNECTION_ERROR' });
      }
      const waitMs = err.retryAfter != null ? err.retryAfter * 1000
        : Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      if (attempt > this.maxRetries || Date.now() + waitMs > deadline) throw err;
      await sleep(waitMs);
    }
  }

  async _error(res) {
    const text = await res.text();
    let code = 'HTTP_ERROR';
    let message = text.slice(0, 500) || res.statusText;
    try {
      const j = JSON.parse(text);
      if (j && typeof j.error === 'object') {
        code = j.error.code ?? code;
        message = j.error.message ?? message;
      }
    } catch { /* not JSON: keep the text */ }
    const ra = res.headers.get('retry-after');
    const retryAfter = ra != null && !Number.isNaN(Number(ra)) ? Math.max(0, Number(ra)) : null;
    return errorFor(res.status, code, message, { requestId: res.headers.get('x-request-id'), retryAfter });
  }

  async _json(method, path, body) {
    const res = await this._fetch(method, path, body);
    return res.json();
  }

  async models() {
    return (await this._json('GET', '/v1/models')).data;
  }

  async model(id) {
    return this._json('GET', `/v1/models/${quoteModel(id)}`);
  }

  async health() {
    try {
      await this._json('GET', '/healthz');
      return true;
    } catch {
      return false;
    }
  }

  async encode(model, texts, params = undefined) {
    const body = { items: toItems(texts) };
    if (params && Object.keys(params).length) body.params = params;
    const d = await this._json('POST', `/v1/encode/${quoteModel(model)}`, body);
    const items = d.items.map((it) => ({
      id: it.id,
      dense: it.dense ? it.dense.values : undefined,
      sparse: it.sparse,
      multivector: it.multivector,
    }));
    return { model: d.model, items, dense: items.map((it) => it.dense), timing: d.timing, raw: d };
  }

  async score(model, query, items, params = undefined) {
    const body = { query: typeof query === 'string' ? { text: query } : query, items: toItems(items) };
    if (params && Object.keys(params).length) body.params = params;
    const d = await this._json('POST', `/v1/score/${quoteModel(model)}`, body);
    return { model: d.model, scores: d.scores, raw: d };
  }

  async rerank(model, query, documents, { topN, returnDocuments = false } = {}) {
    const body = { model, query, documents, return_documents: returnDocuments };
    if (topN !== undefined) body.top_n = topN;
    const d = await this._json('POST', '/v1/rerank', body);
    return d.results.map((r) => ({
      index: r.index,
      relevanceScore: r.relevance_score,
      document: typeof r.document === 'object' && r.document ? r.document.text : r.document,
    }));
  }

  async extract(model, items, labels = undefined, params = undefined) {
    const p = { ...(params || {}) };
    if (labels !== undefined) p.labels = labels;
    const body = { items: toItems(items) };
    if (Object.keys(p).length) body.params = p;
    const d = await this._json('POST', `/v1/extract/${quoteModel(model)}`, body);
    return { model: d.model, items: d.items, raw: d };
  }

  async embeddings(model, input) {
    const d = await this._json('POST', '/v1/embeddings', { model, input });
    return [...d.data].sort((a, b) => a.index - b.index).map((e) => e.embedding);
  }

  // Without stream: the OpenAI response. With { stream: true }: an async iterator of chunks.
  async chat(route, messages, { stream = false, ...params } = {}) {
    const body = { model: route, messages, stream, ...params };
    if (!stream) return this._json('POST', '/v1/chat/completions', body);
    const res = await this._fetch('POST', '/v1/chat/completions', body);
    return parseSse(res.body);
  }
}

async function* parseSse(stream) {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const part of stream) {
    buf += decoder.decode(part, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const payload = line.slice(5).trim();
      if (payload === '[DONE]') return;
      const chunk = JSON.parse(payload);
      if (chunk && typeof chunk.error === 'object') {
        throw errorFor(502, chunk.error.code || 'UPSTREAM_ERROR', chunk.error.message || '');
      }
      yield chunk;
    }
  }
}
