// SIE's msgpack wire format spoken by an independent implementation (the `@msgpack/msgpack` npm
// package, numpy arrays read by hand from their msgpack-numpy maps), against Switchyard's
// /v1/encode, /v1/models and error answers, as the sie-sdk Python client talks to SIE: float32
// vectors equal the JSON answer and the CLI's; int8, uint8, binary, ubinary and float16 equal
// SIE's formulas applied here to the float32 vectors; bad msgpack answers 400 and the server
// keeps serving.
// Usage: node sie_msgpack.mjs URL TOKEN EXPECT.json   (prints "ok: N checks")
import { encode, decode } from '@msgpack/msgpack';
import fs from 'node:fs';
import assert from 'node:assert/strict';

const [url, token, expectFile] = process.argv.slice(2);
const exp = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
const MP = 'application/msgpack';
const auth = token ? { Authorization: `Bearer ${token}` } : {};
let checks = 0;

// msgpack-numpy writes map keys as bin; Python's SDK reads them as bytes.
const utf8 = new TextDecoder();
const unpack = (buf) => decode(buf, { mapKeyConverter: (k) => (k instanceof Uint8Array ? utf8.decode(k) : k) });

async function call(path, body, { accept = MP, raw = null } = {}) {
  const r = await fetch(url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...auth, ...(body !== undefined ? { 'Content-Type': MP } : {}), Accept: accept },
    body: raw ?? (body === undefined ? undefined : encode(body)),
  });
  const buf = new Uint8Array(await r.arrayBuffer());
  const ct = r.headers.get('content-type') || '';
  return { status: r.status, headers: r.headers, ct, body: ct.includes('msgpack') ? unpack(buf) : JSON.parse(utf8.decode(buf)) };
}

// A msgpack-numpy map -> { type, shape, values (a typed array) }.
function ndarray(v, what) {
  assert.equal(v.nd, true, `${what}: not a numpy array`);
  const d = v.data;
  const buf = d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength);
  const half = (h) => {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
    return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  };
  const types = {
    '<f4': () => new Float32Array(buf),
    '<f2': () => Array.from(new Uint16Array(buf), half),
    '|i1': () => new Int8Array(buf),
    '|u1': () => new Uint8Array(buf),
    '<i4': () => new Int32Array(buf),
  };
  assert.ok(types[v.type], `${what}: type ${v.type}`);
  const values = Array.from(types[v.type]());
  assert.equal(values.length, v.shape.reduce((a, b) => a * b, 1), `${what}: shape ${v.shape}`);
  return { type: v.type, shape: v.shape, values };
}

// SIE's quantisation (sie_server core/postprocessor.py), float32 arithmetic, half to even.
const f32 = Math.fround;
const rint = (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x)) + 0; // no -0
function int8(x) {
  let s = Math.max(...x.map(Math.abs));
  if (s === 0) s = 1;
  return x.map((v) => rint(f32(f32(v / s) * 127)));
}
function uint8(x) {
  const lo = Math.min(...x), hi = Math.max(...x);
  let r = f32(hi - lo);
  if (r === 0) r = 1;
  return x.map((v) => rint(f32(f32(f32(v - lo) / r) * 255)));
}
function packbits(x) {
  const out = new Array(Math.ceil(x.length / 8)).fill(0);
  x.forEach((v, i) => { if (v > 0) out[i >> 3] |= 0x80 >> (i & 7); });
  return out;
}

const items = [{ id: 'a', text: exp.texts[0] }, ...exp.texts.slice(1).map((text) => ({ text }))];
const encodeAs = (dtype, extra = {}) =>
  call('/v1/encode/bert', { items, params: { output_types: ['dense'], output_dtype: dtype, ...extra } });

// float32: msgpack answer, numpy arrays, equal to the JSON answer and to the CLI's vectors.
const r32 = await encodeAs('float32');
assert.equal(r32.status, 200, JSON.stringify(r32.body));
assert.ok(r32.ct.startsWith(MP), r32.ct);
assert.ok(r32.headers.get('x-sie-server-version'), 'X-SIE-Server-Version');
assert.ok(r32.headers.get('x-tokenization-time') !== null, 'X-Tokenization-Time');
assert.equal(r32.body.items[0].id, 'a');
assert.equal(r32.body.items[1].id, 'item-1');
for (const k of ['total_ms', 'queue_ms', 'tokenization_ms', 'inference_ms', 'postprocessing_ms'])
  assert.equal(typeof r32.body.timing[k], 'number', `timing.${k}`);
checks += 3;
const dense = r32.body.items.map((it, i) => {
  assert.equal(it.dense.dtype, 'float32');
  const a = ndarray(it.dense.values, `item ${i}`);
  assert.equal(a.type, '<f4');
  assert.deepEqual(a.shape, [it.dense.dims]);
  const err = Math.max(...a.values.map((x, j) => Math.abs(x - exp.dense[i][j])));
  assert.ok(err < 1e-6, `item ${i}: max abs diff ${err} from the CLI`);
  checks++;
  return a.values;
});
const rj = await call('/v1/encode/bert', { items, params: { output_dtype: 'float32' } }, { accept: 'application/json' });
assert.ok(rj.ct.startsWith('application/json'));
rj.body.items.forEach((it, i) => assert.deepEqual(it.dense.values.map(f32), dense[i], `JSON item ${i}`));
checks++;

// The quantised dtypes against SIE's formulas on the float32 vectors.
const cases = {
  int8: ['|i1', int8, (n) => n],
  uint8: ['|u1', uint8, (n) => n],
  binary: ['|u1', packbits, (n) => Math.ceil(n / 8)],
  ubinary: ['|u1', packbits, (n) => Math.ceil(n / 8)],
};
for (const [dtype, [np, f, width]] of Object.entries(cases)) {
  const r = await encodeAs(dtype);
  assert.equal(r.status, 200, `${dtype}: ${JSON.stringify(r.body)}`);
  r.body.items.forEach((it, i) => {
    assert.equal(it.dense.dtype, dtype);
    assert.equal(it.dense.dims, dense[i].length, `${dtype}: dims is the original width`);
    const a = ndarray(it.dense.values, `${dtype} item ${i}`);
    assert.equal(a.type, np);
    assert.deepEqual(a.shape, [width(dense[i].length)]);
    assert.deepEqual(a.values, f(dense[i]), `${dtype} item ${i}`);
    checks++;
  });
}
// float16: the float32 values rounded to half precision.
const r16 = await encodeAs('float16');
r16.body.items.forEach((it, i) => {
  const a = ndarray(it.dense.values, `float16 item ${i}`);
  assert.equal(a.type, '<f2');
  const err = Math.max(...a.values.map((x, j) => Math.abs(x - dense[i][j]) / Math.max(Math.abs(dense[i][j]), 6e-5)));
  assert.ok(err <= 2 ** -11, `float16 item ${i}: relative error ${err}`);
  checks++;
});
// SIE's options: output_dtype from options when params has none; an unknown option refused.
const ro = await call('/v1/encode/bert', { items, params: { options: { output_dtype: 'int8', is_query: true } } });
assert.equal(ro.body.items[0].dense.dtype, 'int8');
const bad = await call('/v1/encode/bert', { items, params: { options: { muvera: true } } });
assert.equal(bad.status, 400);
assert.equal(bad.body.error.code, 'INVALID_INPUT');
assert.match(bad.body.error.message, /muvera/);
checks += 2;

// list_models reads `models`.
const lm = await call('/v1/models');
assert.equal(lm.status, 200);
const m = lm.body.models.find((x) => x.name === 'bert');
assert.ok(m && m.inputs.includes('text') && m.outputs.includes('dense') && m.dims.dense === 64, JSON.stringify(m));
assert.ok(Array.isArray(lm.body.data), 'OpenAI data list kept');
checks++;

// Bad msgpack: 400 in msgpack with SIE's error shape, and the server keeps serving.
for (const raw of [new Uint8Array([0xc1]), new Uint8Array([0x81, 0xa5, 0x69, 0x74, 0x65, 0x6d, 0x73, 0xdd, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0x82, 0xa1])]) {
  const r = await call('/v1/encode/bert', null, { raw });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.ok(r.ct.startsWith(MP));
  assert.equal(r.body.error.code, 'INVALID_INPUT');
  assert.match(r.body.error.message, /msgpack/);
  checks++;
}
const again = await encodeAs('float32');
assert.equal(again.status, 200);
checks++;
console.log(`ok: ${checks} checks`);
