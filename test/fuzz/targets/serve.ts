// Target: the HTTP inputs of `fmnist serve` (src/serve), over real sockets: the server runs in this (child)
// process on a random port with a tiny real PyTorch model (test/fixtures/old-runs/pytorch-dense), and gets
// mutated JSON bodies, multipart uploads, raw images, wrong content types and methods, odd URLs, empty and huge
// bodies. Every answer must be a 200 or a 4xx with a JSON {error, message}: never a 5xx, a hang or a dropped
// connection.
//
// An input is one request: a JSON line {"m": method, "u": url, "h": headers} and then the body's bytes.
import { request } from 'node:http';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { buildServer } from '../../../src/serve/server.js';
import * as torch from '../../../src/torch/index.js';
import { InvariantError, invariant, type FuzzTarget } from '../harness.js';
import { mutateBytes, mutateJsonBytes, text, type Rng } from '../mutate.js';
import { concat, encodePng, mutateJpeg, mutatePng, randomPngSpec } from '../formats.js';
import { multipartBody } from '../../serve/helpers.js';

const OLD = fileURLToPath(new URL('../../fixtures/old-runs/', import.meta.url));
/** The server's per-request limit here: short, so a body that never comes costs little. */
const SERVER_TIMEOUT_MS = 1500;

interface Req {
  m: string;
  u: string;
  h: Record<string, string>;
  body: Uint8Array;
}

const enc = new TextEncoder();

export function encodeRequest(r: Req): Uint8Array {
  return concat([enc.encode(`${JSON.stringify({ m: r.m, u: r.u, h: r.h })}\n`), r.body]);
}

export function decodeRequest(b: Uint8Array): Req {
  const nl = b.indexOf(0x0a);
  const fallback = { m: 'POST', u: '/v1/predict', h: {} as Record<string, string> };
  let head = fallback;
  try {
    const v = JSON.parse(text(b.subarray(0, nl < 0 ? b.length : nl))) as Partial<Req>;
    head = {
      m: typeof v.m === 'string' && /^[A-Z]{1,10}$/.test(v.m) ? v.m : 'POST',
      u: typeof v.u === 'string' && v.u.startsWith('/') ? v.u : '/v1/predict',
      h: v.h && typeof v.h === 'object' ? v.h : {},
    };
  } catch {
    // a damaged header line: the defaults, and the rest is the body
  }
  return { ...head, body: nl < 0 ? new Uint8Array(0) : b.subarray(nl + 1) };
}

// ---- bodies ----

const gray28 = () =>
  Uint8Array.from({ length: 784 }, (_, i) => (((i % 28) - 14) ** 2 + ((i / 28 - 14) | 0) ** 2 < 80 ? 220 : 5));

function png28(): Uint8Array {
  const p = new PNG({ width: 28, height: 28 });
  const g = gray28();
  for (let i = 0; i < 784; i++) {
    p.data[i * 4] = p.data[i * 4 + 1] = p.data[i * 4 + 2] = g[i];
    p.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(p));
}

function jpg(w: number, h: number): Uint8Array {
  const data = Buffer.alloc(w * h * 4, 255);
  for (let i = 0; i < w * h; i++) data[i * 4] = data[i * 4 + 1] = data[i * 4 + 2] = (i * 13) & 0xff;
  return new Uint8Array(jpeg.encode({ data, width: w, height: h }, 80).data);
}

const BOUNDARY = 'fuzzBoundary7MA4YWxkTrZu0gW';

const multipart = (files: Parameters<typeof multipartBody>[0], fields: [string, string][] = []) =>
  multipartBody(
    files,
    fields.map(([name, value]) => ({ name, value })),
    BOUNDARY,
  ).body;

const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;
const CONTENT_TYPES = [
  'image/png',
  'image/jpeg',
  'image/jpg',
  'application/octet-stream',
  'application/json',
  MULTIPART,
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary=other',
  'multipart/mixed; boundary=x',
  'text/plain',
  'text/html',
  'application/xml',
  'image/gif',
  'image/png; q=1',
  'IMAGE/PNG',
  'application/x-www-form-urlencoded',
  '',
  ';',
  'application/',
  '*/*',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
let modelId = 'run';
const urls = () => [
  '/v1/predict',
  '/v1/predict?top=3',
  '/v1/predict?top=0',
  '/v1/predict?top=11',
  '/v1/predict?top=-1',
  '/v1/predict?top=abc',
  '/v1/predict?top=1e3',
  '/v1/predict?x=1',
  '/v1/predict?top=2&top=3',
  '/v1/predict/batch',
  '/v1/predict/batch?top=1',
  '/v1/models',
  '/v1/models?x',
  `/v1/models/${modelId}`,
  `/v1/models/${modelId}/model.onnx`,
  `/v1/models/${modelId}/model.json`,
  `/v1/models/${modelId}/confusion.png`,
  `/v1/models/${modelId}/..%2Frun.json`,
  '/v1/models/nope/model.onnx',
  '/v1/samples/random',
  '/v1/samples/0',
  '/v1/samples/9999',
  '/v1/samples/10000',
  '/v1/samples/-1',
  '/v1/samples/1.5',
  '/v1/samples/%zz',
  '/healthz',
  '/metrics',
  '/',
  '/index.html',
  '/app.js',
  '/vendor/ort/nope.wasm',
  '/vendor/../package.json',
  '/v1//predict',
  '/v1/predict/',
  '/%2e%2e/%2e%2e/etc/passwd',
  `/${'a'.repeat(3000)}`,
];

/** A multipart body's first part data (between its headers and the next boundary), for image mutations. */
function partSpan(body: Uint8Array): [number, number] | null {
  const s = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const start = s.indexOf('\r\n\r\n');
  const end = s.indexOf(`\r\n--${BOUNDARY}`, start + 4);
  return start < 0 || end < 0 ? null : [start + 4, end];
}

function mutateImage(img: Uint8Array, rng: Rng, other: Uint8Array): Uint8Array {
  if (img[0] === 0x89) return mutatePng(img, rng, other);
  if (img[0] === 0xff) return mutateJpeg(img, rng, other);
  return mutateBytes(img, rng, other);
}

function mutateBody(r: Req, rng: Rng, other: Req): Uint8Array {
  const ct = (r.h['content-type'] ?? '').toLowerCase();
  if (ct.startsWith('application/json')) {
    // the image inside {"image": "<base64>"} now and then, else the JSON itself
    const s = text(r.body);
    const m = /"image"\s*:\s*"([A-Za-z0-9+/=]+)"/.exec(s);
    if (m && rng.chance(0.4)) {
      const img = new Uint8Array(Buffer.from(m[1], 'base64'));
      return enc.encode(s.replace(m[1], Buffer.from(mutateImage(img, rng, other.body)).toString('base64')));
    }
    return mutateJsonBytes(
      r.body,
      rng,
      other.body,
      ['pixels', 'images', 'image'],
      ['', 'AAAA', 'iVBORw0KGgo=', '===='],
    );
  }
  if (ct.startsWith('multipart/')) {
    const span = partSpan(r.body);
    if (span && rng.chance(0.6)) {
      const [a, b] = span;
      return concat([r.body.subarray(0, a), mutateImage(r.body.subarray(a, b), rng, other.body), r.body.subarray(b)]);
    }
    return mutateBytes(r.body, rng, other.body);
  }
  return mutateImage(r.body, rng, other.body);
}

function mutateRequest(input: Uint8Array, rng: Rng, otherInput: Uint8Array): Uint8Array {
  const r = decodeRequest(input);
  const other = decodeRequest(otherInput);
  const h = { ...r.h };
  const x = rng.float();
  let body = r.body;
  let m = r.m;
  let u = r.u;
  if (x < 0.5) body = mutateBody(r, rng, other);
  else if (x < 0.62) h['content-type'] = rng.pick(CONTENT_TYPES);
  else if (x < 0.72)
    u = rng.chance(0.8)
      ? rng.pick(urls())
      : u + rng.pick(['?', '&top=2', '%', '/x', '#a', '?top=' + rng.range(-5, 300)]);
  else if (x < 0.78) m = rng.pick(METHODS);
  else if (x < 0.84) {
    const k = rng.pick([
      'transfer-encoding',
      'content-encoding',
      'content-length',
      'accept',
      'x-forwarded-for',
      'content-type',
    ]);
    if (h[k] !== undefined && rng.chance(0.5)) delete h[k];
    else if (k === 'transfer-encoding') h[k] = 'chunked';
    else if (k === 'content-encoding') h[k] = rng.pick(['gzip', 'deflate', 'br', 'identity', 'x']);
    else if (k === 'content-length') h[k] = String(Math.max(0, body.length + rng.pick([-1, -10, 1, 0])));
    else h[k] = rng.pick(['*/*', 'application/json', '', 'x'.repeat(100)]);
  } else if (x < 0.88) body = new Uint8Array(0);
  else if (x < 0.94)
    body = other.body; // one request's body with another's type and route
  else body = mutateBytes(body, rng, other.body);
  if (h['content-length'] !== undefined && rng.chance(0.7)) delete h['content-length']; // mostly: the length is right
  return encodeRequest({ m, u, h, body });
}

// ---- the client ----

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let port = 0;

/** Sends one request; a connection dropped before the whole answer arrives is an InvariantError. */
export function send(r: Req, timeoutMs = SERVER_TIMEOUT_MS + 3500): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.h };
    if (
      headers['transfer-encoding'] === undefined &&
      headers['content-length'] === undefined &&
      (r.body.length || r.m !== 'GET')
    )
      headers['content-length'] = String(r.body.length);
    const what = `${r.m} ${r.u.slice(0, 60)} (${headers['content-type'] ?? 'no content-type'}, ${r.body.length} bytes)`;
    let answered: Answer | null = null;
    const req = request(
      { host: '127.0.0.1', port, method: r.m, path: r.u, headers, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          answered = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          resolve(answered);
        });
        res.on('error', (e) => reject(new InvariantError(`the answer to ${what} broke off: ${e.message}`)));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      reject(new InvariantError(`no answer to ${what} within ${timeoutMs} ms`));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      // the server may close after answering (413, 408) while the body is still being sent: fine once answered
      if (!answered) reject(new InvariantError(`the connection was dropped on ${what}: ${e.code ?? e.message}`));
    });
    // the body in pieces, as a slow client would send it; writes after an early answer may fail (handled above)
    const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
    for (let i = 0; i < body.length; i += 1 << 20) req.write(body.subarray(i, i + (1 << 20)));
    req.end();
  });
}

/** What a good answer is: a 200 (with the prediction, for predict routes) or a 4xx with a JSON error. */
export function checkAnswer(r: Req, a: Answer): string {
  const what = `${r.m} ${r.u.split('?')[0].slice(0, 60)}`;
  const type = String(a.headers['content-type'] ?? '');
  let json: any = null;
  if (type.includes('application/json') && r.m !== 'HEAD') {
    try {
      json = JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new InvariantError(`${what}: ${a.status} with a body that is not the JSON it says it is`);
    }
  }
  if (a.status >= 500)
    throw new InvariantError(
      `${what}: HTTP ${a.status} ${json?.error ?? ''}: ${json?.message ?? a.body.toString('utf8').slice(0, 200)}`,
    );
  if (a.status >= 400) {
    if (r.m === 'HEAD') return `${a.status}`;
    invariant(
      json,
      `${what}: ${a.status} without a JSON body (content-type ${type}): ${a.body.toString('utf8').slice(0, 100)}`,
    );
    invariant(
      typeof json.error === 'string' && typeof json.message === 'string' && json.message,
      `${what}: ${a.status} JSON without error and message: ${JSON.stringify(json).slice(0, 200)}`,
    );
    return `${a.status} ${json.error} ${json.message}`;
  }
  invariant(a.status === 200 || a.status === 204 || a.status === 304, `${what}: HTTP ${a.status}`);
  if (r.m === 'POST' && r.u.startsWith('/v1/predict') && a.status === 200) {
    const p = r.u.startsWith('/v1/predict/batch') ? json?.results?.[0] : json;
    invariant(
      Array.isArray(p?.predictions) && p.predictions[0]?.probabilities?.length === 10,
      `${what}: 200 without predictions`,
    );
  }
  return `${a.status} ${what}`;
}

let app: FastifyInstance | null = null;
let tmp = '';

export const target: FuzzTarget = {
  name: 'serve',
  async setup() {
    torch.setNumThreads(1);
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-fuzz-serve-'));
    const dir = join(tmp, 'run');
    cpSync(join(OLD, 'pytorch-dense'), dir, { recursive: true });
    // the limits `fmnist serve` has by default (8 MiB a request, 64 MiB a batch), a short request timeout
    app = await buildServer({ models: [dir], timeoutMs: SERVER_TIMEOUT_MS });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    modelId = 'run';
  },
  async close() {
    await app?.close();
    rmSync(tmp, { recursive: true, force: true });
  },
  seeds() {
    const p = png28();
    const j = jpg(28, 28);
    const pixels = Array.from(gray28());
    const json = (v: unknown) => enc.encode(JSON.stringify(v));
    const post = (u: string, type: string, body: Uint8Array): Req => ({
      m: 'POST',
      u,
      h: { 'content-type': type },
      body,
    });
    return [
      post('/v1/predict', 'image/png', p),
      post('/v1/predict?top=3', 'image/jpeg', j),
      post('/v1/predict', 'application/octet-stream', jpg(40, 30)),
      post('/v1/predict', 'application/json', json({ pixels })),
      post('/v1/predict?top=5', 'application/json', json({ image: Buffer.from(p).toString('base64') })),
      post('/v1/predict', MULTIPART, multipart([{ field: 'image', name: 'a.png', type: 'image/png', data: p }])),
      post(
        '/v1/predict/batch',
        'application/json',
        json({ images: [{ pixels }, { image: Buffer.from(j).toString('base64') }] }),
      ),
      post(
        '/v1/predict/batch',
        MULTIPART,
        multipart(
          [
            { field: 'image', name: 'a.png', type: 'image/png', data: p },
            { field: 'image', name: 'b.jpg', type: 'image/jpeg', data: j },
          ],
          [['note', 'x']],
        ),
      ),
      post('/v1/predict', 'text/plain', enc.encode('hello')),
      { m: 'GET', u: '/v1/models', h: {}, body: new Uint8Array(0) },
      { m: 'GET', u: '/v1/samples/random', h: {}, body: new Uint8Array(0) },
      { m: 'GET', u: '/healthz', h: {}, body: new Uint8Array(0) },
    ].map(encodeRequest);
  },
  generateRate: 0.08,
  generate(rng) {
    const r = rng.float();
    if (r < 0.05) {
      // a body over the limit: 9 MiB (just over 8 MiB), or the 20 MB upload; raw or multipart
      const big = new Uint8Array(rng.chance(0.5) ? 9 * 2 ** 20 : 20_000_000);
      big.set(png28());
      return rng.chance(0.5)
        ? encodeRequest({ m: 'POST', u: '/v1/predict', h: { 'content-type': 'image/png' }, body: big })
        : encodeRequest({
            m: 'POST',
            u: '/v1/predict',
            h: { 'content-type': MULTIPART },
            body: multipart([{ field: 'image', name: 'big.png', type: 'image/png', data: big }]),
          });
    }
    const img = encodePng(randomPngSpec(rng));
    const type = rng.pick(['image/png', 'application/octet-stream', MULTIPART, 'application/json']);
    const body =
      type === MULTIPART
        ? multipart([{ field: rng.chance(0.9) ? 'image' : 'file', name: 'g.png', type: 'image/png', data: img }])
        : type === 'application/json'
          ? enc.encode(JSON.stringify({ image: Buffer.from(img).toString('base64') }))
          : img;
    return encodeRequest({
      m: 'POST',
      u: rng.pick(['/v1/predict', '/v1/predict/batch']),
      h: { 'content-type': type },
      body,
    });
  },
  mutate: mutateRequest,
  async run(input) {
    const r = decodeRequest(input);
    return checkAnswer(r, await send(r));
  },
  // every answer that is not a failure is fine: the target throws only InvariantErrors
  expected: () => false,
  timeoutMs: SERVER_TIMEOUT_MS + 4500,
  describe(input) {
    const r = decodeRequest(input);
    const body = text(r.body.subarray(0, 80)).replace(/[^\x20-\x7e]/g, '.');
    return `${r.m} ${r.u.slice(0, 100)} ${JSON.stringify(r.h)}, body ${r.body.length} bytes: ${body}`;
  },
};
