// The REST API through fastify.inject: every route, a table of bad inputs, batching, limits.
// Setup trains a tiny real PyTorch CNN and a tiny real Keras dense net (1 epoch each): ~20 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { deflateSync } from 'node:zlib';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/serve/server.js';
import { preprocessImage } from '../../src/imaging/preprocess.js';
import { CLASS_NAMES } from '../../src/data/index.js';
import {
  fashionTest,
  jpg,
  multipartBody,
  png,
  tempDir,
  testImage,
  trainTinyKeras,
  trainTinyPytorch,
  upscale,
} from './helpers.js';

const LIMIT = 256 * 1024;
let tmp: ReturnType<typeof tempDir>;
let torchDir: string;
let kerasDir: string;
let app: FastifyInstance;
/** Test images the tiny PyTorch model gets right with some confidence. */
let good: number[] = [];

before(async () => {
  tmp = tempDir();
  torchDir = await trainTinyPytorch(join(tmp.dir, 'pytorch-cnn'));
  kerasDir = await trainTinyKeras(join(tmp.dir, 'keras-dense'));
  // A report picture for one run: the page's model card shows it.
  mkdirSync(join(torchDir, 'report'), { recursive: true });
  writeFileSync(join(torchDir, 'report', 'confusion-matrix.png'), png(new Uint8Array(100).fill(200), 10, 10));
  app = await buildServer({
    models: [torchDir, kerasDir],
    maxBodyBytes: LIMIT,
    maxBatchBodyBytes: 2 * 2 ** 20,
    maxPixels: 4_000_000,
    timeoutMs: 5_000,
  });
  const images = Array.from({ length: 64 }, (_, i) => ({ pixels: Array.from(testImage(i)) }));
  const r = await app.inject({ method: 'POST', url: '/v1/predict/batch', payload: { images } });
  assert.equal(r.statusCode, 200, r.body);
  const { labels } = fashionTest();
  good = r
    .json()
    .results.map((res: any, i: number) =>
      res.predictions[0].top[0].label === labels[i] && res.predictions[0].top[0].probability > 0.6 ? i : -1,
    )
    .filter((i: number) => i >= 0);
  assert.ok(good.length >= 5, `the tiny model should get a few of 64 images right, got ${good.length}`);
});

after(async () => {
  await app?.close();
  tmp?.cleanup();
});

const json = (r: LightMyRequestResponse) => r.json() as any;

function assertError(r: LightMyRequestResponse, status: number, error?: string) {
  assert.equal(r.statusCode, status, `expected ${status}, got ${r.statusCode}: ${r.body}`);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const b = json(r);
  assert.equal(typeof b.error, 'string', r.body);
  assert.equal(typeof b.message, 'string', r.body);
  assert.ok(b.message.length > 0);
  if (error) assert.equal(b.error, error, r.body);
}

function assertPrediction(b: any) {
  assert.equal(b.predictions.length, 2);
  assert.deepEqual(
    b.predictions.map((p: any) => [p.model, p.framework, p.arch]),
    [
      ['pytorch-cnn', 'pytorch', 'cnn'],
      ['keras-dense', 'keras', 'dense'],
    ],
  );
  for (const p of b.predictions) {
    assert.equal(p.top.length, 3);
    for (const t of p.top) {
      assert.equal(t.class, CLASS_NAMES[t.label]);
      assert.ok(t.probability >= 0 && t.probability <= 1);
    }
    assert.ok(p.top[0].probability >= p.top[1].probability && p.top[1].probability >= p.top[2].probability);
    assert.equal(p.probabilities.length, 10);
    assert.ok(Math.abs(p.probabilities.reduce((s: number, v: number) => s + v, 0) - 1) < 1e-4);
  }
  assert.equal(b.preprocessed.length, 784);
  assert.ok(b.preprocessed.every((v: number) => Number.isInteger(v) && v >= 0 && v <= 255));
  assert.ok(typeof b.ms === 'number' && b.ms >= 0);
}

test('GET /healthz', async () => {
  const r = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(json(r).models, ['pytorch-cnn', 'keras-dense']);
  assert.equal(json(r).status, 'ok');
});

test('GET /v1/models lists id, framework, arch, params and test accuracy', async () => {
  const r = await app.inject({ method: 'GET', url: '/v1/models' });
  assert.equal(r.statusCode, 200);
  const { models, classes } = json(r);
  assert.deepEqual(classes, CLASS_NAMES);
  assert.equal(models.length, 2);
  const [t, k] = models;
  assert.equal(t.id, 'pytorch-cnn');
  assert.equal(t.framework, 'pytorch');
  assert.equal(t.arch, 'cnn');
  assert.equal(t.params, 225034);
  assert.ok(t.testAccuracy > 0.3 && t.testAccuracy <= 1);
  assert.equal(t.confusionMatrix.length, 10);
  assert.equal(t.browser, null);
  assert.equal(t.confusionImage, '/v1/models/pytorch-cnn/confusion.png');
  assert.equal(k.confusionImage, null);
  const img = await app.inject({ method: 'GET', url: t.confusionImage });
  assert.equal(img.statusCode, 200);
  assert.equal(img.headers['content-type'], 'image/png');
  assert.match(t.browserUnavailable, /Keras/);
  assert.equal(k.framework, 'keras');
  assert.deepEqual(k.browser, { modelJson: '/v1/models/keras-dense/model.json' });
});

test('GET /v1/models/:id/:file serves the tfjs files of a Keras run and nothing else', async () => {
  const m = await app.inject({ method: 'GET', url: '/v1/models/keras-dense/model.json' });
  assert.equal(m.statusCode, 200);
  assert.ok(json(m).modelTopology);
  const w = await app.inject({ method: 'GET', url: '/v1/models/keras-dense/weights.bin' });
  assert.equal(w.statusCode, 200);
  assert.equal(
    w.rawPayload.length,
    json(m).weightsManifest[0].weights.reduce(
      (s: number, x: any) => s + x.shape.reduce((a: number, b: number) => a * b, 1) * 4,
      0,
    ),
  );
  for (const url of [
    '/v1/models/keras-dense/run.json',
    '/v1/models/keras-dense/metrics.json',
    '/v1/models/keras-dense/..%2Frun.json',
    '/v1/models/keras-dense/%2E%2E',
    '/v1/models/pytorch-cnn/model.json',
    '/v1/models/pytorch-cnn/model.pt',
    '/v1/models/nope/model.json',
  ])
    assertError(await app.inject({ method: 'GET', url }), 404, 'not_found');
});

test('GET /v1/samples/random and /v1/samples/:index give test images', async () => {
  const r = await app.inject({ method: 'GET', url: '/v1/samples/random' });
  assert.equal(r.statusCode, 200);
  const s = json(r);
  assert.equal(s.pixels.length, 784);
  assert.equal(s.class, CLASS_NAMES[s.label]);
  const three = json(await app.inject({ method: 'GET', url: '/v1/samples/3' }));
  assert.equal(three.index, 3);
  assert.deepEqual(three.pixels, Array.from(testImage(3)));
  assert.equal(three.label, fashionTest().labels[3]);
  assertError(await app.inject({ method: 'GET', url: '/v1/samples/10000' }), 404);
  assertError(await app.inject({ method: 'GET', url: '/v1/samples/-1' }), 404);
  assertError(await app.inject({ method: 'GET', url: '/v1/samples/abc' }), 404);
});

test('GET / and the page files, with the tfjs bundle', async () => {
  const page = await app.inject({ method: 'GET', url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(page.body, /<script type="module" src="\/app.js">/);
  for (const [url, type] of [
    ['/app.js', /javascript/],
    ['/style.css', /text\/css/],
    ['/vendor/tf.min.js', /javascript/],
  ] as const) {
    const r = await app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, url);
    assert.match(String(r.headers['content-type']), type);
    const again = await app.inject({ method: 'GET', url, headers: { 'if-none-match': String(r.headers.etag) } });
    assert.equal(again.statusCode, 304, url);
  }
  assertError(await app.inject({ method: 'GET', url: '/nope.js' }), 404, 'not_found');
  assertError(await app.inject({ method: 'GET', url: '/vendor/nope.js' }), 404, 'not_found');
  assertError(await app.inject({ method: 'GET', url: '/a/b/c' }), 404, 'not_found');
});

test('POST /v1/predict with JSON pixels', async () => {
  const i = good[0];
  const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: Array.from(testImage(i)) } });
  assert.equal(r.statusCode, 200, r.body);
  const b = json(r);
  assertPrediction(b);
  assert.equal(b.predictions[0].top[0].label, fashionTest().labels[i]);
  assert.deepEqual(b.preprocessed, Array.from(testImage(i)));
  assert.deepEqual(b.preprocessing.steps, []);
  assert.equal(b.preprocessing.format, 'raw');
});

test('POST /v1/predict with a raw PNG on a light background: inverted, resized and reported', async () => {
  const i = good[1];
  const big = upscale(testImage(i), 4, true);
  const r = await app.inject({
    method: 'POST',
    url: '/v1/predict',
    headers: { 'content-type': 'image/png' },
    payload: png(big.gray, big.w, big.h),
  });
  assert.equal(r.statusCode, 200, r.body);
  const b = json(r);
  assertPrediction(b);
  // Nearest ×4 then area-average ÷4 and inverting twice give back the original pixels exactly.
  assert.deepEqual(b.preprocessed, Array.from(testImage(i)));
  assert.equal(b.predictions[0].top[0].label, fashionTest().labels[i]);
  assert.equal(b.preprocessing.inverted, true);
  assert.equal(b.preprocessing.resized, true);
  assert.equal(b.preprocessing.format, 'png');
  const steps = b.preprocessing.steps.join('; ');
  assert.match(steps, /decoded PNG 112×112/);
  assert.match(steps, /inverted/);
  assert.match(steps, /resized 112×112 → 28×28/);
});

test('POST /v1/predict with a JPEG photo of other proportions, and as application/octet-stream', async () => {
  const i = good[2];
  const big = upscale(testImage(i), 3, true);
  // Pad to 84×120 on white so it has to be fitted and centred.
  const w = 84;
  const h = 120;
  const g = new Uint8Array(w * h).fill(255);
  for (let y = 0; y < 84; y++) for (let x = 0; x < 84; x++) g[(y + 18) * w + x] = big.gray[y * 84 + x];
  for (const type of ['image/jpeg', 'application/octet-stream']) {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': type },
      payload: jpg(g, w, h),
    });
    assert.equal(r.statusCode, 200, r.body);
    const b = json(r);
    assertPrediction(b);
    assert.equal(b.preprocessing.format, 'jpeg');
    assert.match(b.preprocessing.steps.join('; '), /resized 84×120 → 20×28, centred/);
  }
});

test('POST /v1/predict with multipart/form-data and with a base64 image in JSON', async () => {
  const i = good[3];
  const data = png(testImage(i), 28, 28);
  const mp = multipartBody([{ field: 'image', name: 'x.png', type: 'image/png', data }]);
  const r = await app.inject({
    method: 'POST',
    url: '/v1/predict',
    headers: { 'content-type': mp.contentType },
    payload: mp.body,
  });
  assert.equal(r.statusCode, 200, r.body);
  assertPrediction(json(r));
  assert.deepEqual(json(r).preprocessed, Array.from(testImage(i)));
  const r2 = await app.inject({ method: 'POST', url: '/v1/predict', payload: { image: data.toString('base64') } });
  assert.equal(r2.statusCode, 200, r2.body);
  assert.deepEqual(json(r2).predictions, json(r).predictions);
});

test('pixels given as 0–1 are read as 0–255, with a note saying so', async () => {
  const r = await app.inject({
    method: 'POST',
    url: '/v1/predict',
    payload: { pixels: Array.from(testImage(0), (v) => v / 255) },
  });
  assert.equal(r.statusCode, 200);
  assert.match(json(r).preprocessing.steps.join(' '), /multiply \[0, 1\] values by 255/);
});

test('?top=k chooses how many classes are listed', async () => {
  const r = await app.inject({
    method: 'POST',
    url: '/v1/predict?top=10',
    payload: { pixels: Array.from(testImage(0)) },
  });
  assert.equal(r.statusCode, 200);
  assert.equal(json(r).predictions[0].top.length, 10);
  assertError(
    await app.inject({ method: 'POST', url: '/v1/predict?top=0', payload: { pixels: Array.from(testImage(0)) } }),
    400,
    'bad_request',
  );
  assertError(
    await app.inject({ method: 'POST', url: '/v1/predict?top=x', payload: { pixels: Array.from(testImage(0)) } }),
    400,
    'bad_request',
  );
  assertError(
    await app.inject({ method: 'POST', url: '/v1/predict?color=red', payload: { pixels: Array.from(testImage(0)) } }),
    400,
    'bad_request',
  );
});

test('POST /v1/predict/batch gives the same answers as single requests', async () => {
  const idx = good.slice(0, 5);
  const batch = await app.inject({
    method: 'POST',
    url: '/v1/predict/batch',
    payload: { images: idx.map((i) => ({ pixels: Array.from(testImage(i)) })) },
  });
  assert.equal(batch.statusCode, 200, batch.body);
  const b = json(batch);
  assert.equal(b.count, idx.length);
  for (const [k, i] of idx.entries()) {
    const single = json(
      await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: Array.from(testImage(i)) } }),
    );
    assertPrediction({ ...b.results[k], ms: b.ms });
    for (let m = 0; m < 2; m++)
      b.results[k].predictions[m].probabilities.forEach((p: number, c: number) =>
        assert.ok(Math.abs(p - single.predictions[m].probabilities[c]) < 1e-5),
      );
  }
  // Multipart: several "image" files.
  const mp = multipartBody(
    idx
      .slice(0, 3)
      .map((i) => ({ field: 'image', name: `${i}.png`, type: 'image/png', data: png(testImage(i), 28, 28) })),
  );
  const r = await app.inject({
    method: 'POST',
    url: '/v1/predict/batch',
    headers: { 'content-type': mp.contentType },
    payload: mp.body,
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(json(r).count, 3);
  assert.deepEqual(
    json(r).results.map((x: any) => x.predictions[0].top[0].label),
    idx.slice(0, 3).map((i) => fashionTest().labels[i]),
  );
});

test('256 images in one batch are accepted, 257 are not', async () => {
  const images = Array.from({ length: 256 }, (_, i) => ({ pixels: Array.from(testImage(i)) }));
  const r = await app.inject({ method: 'POST', url: '/v1/predict/batch', payload: { images } });
  assert.equal(r.statusCode, 200);
  assert.equal(json(r).count, 256);
  images.push({ pixels: Array.from(testImage(256)) });
  assertError(
    await app.inject({ method: 'POST', url: '/v1/predict/batch', payload: { images } }),
    422,
    'invalid_input',
  );
});

test('concurrent requests are batched into fewer predict() calls, each getting its own answer', async () => {
  const before = await metricValue('fmnist_inference_batch_size_count{model="pytorch-cnn"}');
  const n = 24;
  const idx = Array.from({ length: n }, (_, k) => good[k % good.length]);
  const answers = await Promise.all(
    idx.map((i) => app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: Array.from(testImage(i)) } })),
  );
  for (const [k, r] of answers.entries()) {
    assert.equal(r.statusCode, 200);
    assert.deepEqual(json(r).preprocessed, Array.from(testImage(idx[k])));
    assert.equal(json(r).predictions[0].top[0].label, fashionTest().labels[idx[k]]);
  }
  const calls = (await metricValue('fmnist_inference_batch_size_count{model="pytorch-cnn"}')) - before;
  assert.ok(calls >= 1 && calls < n / 2, `${n} concurrent requests took ${calls} predict() calls`);
});

async function metricValue(series: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('a large image is decoded in a worker thread with the same result', async () => {
  const big = upscale(testImage(good[0]), 24, true); // 672×672 = 451,584 pixels: above the inline limit
  const data = png(big.gray, big.w, big.h);
  const r = await app.inject({
    method: 'POST',
    url: '/v1/predict',
    headers: { 'content-type': 'image/png' },
    payload: data,
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(json(r).preprocessed, Array.from(preprocessImage(data).pixels));
});

// ---------- bad input ----------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  let c = 0xffffffff;
  for (const b of Buffer.concat([head.subarray(4), data])) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}
/** A PNG that declares w×h; its IDAT holds `inflated` bytes of zeros. */
function pngDeclaring(w: number, h: number, inflated: number, interlaced = false): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  ihdr[12] = interlaced ? 1 : 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(inflated), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** A JPEG whose start-of-frame declares w×h. */
function jpegDeclaring(w: number, h: number): Buffer {
  const j = Buffer.from(jpg(new Uint8Array(64).fill(128), 8, 8));
  for (let i = 2; i < j.length - 9;) {
    const marker = j[i + 1];
    if (marker === 0xc0 || marker === 0xc2) {
      j.writeUInt16BE(h, i + 5);
      j.writeUInt16BE(w, i + 7);
      return j;
    }
    i += 2 + j.readUInt16BE(i + 2);
  }
  throw new Error('no SOF');
}

test('bad inputs get a 4xx with {"error", "message"}', async () => {
  const okPng = png(upscale(testImage(0), 2, true).gray, 56, 56);
  const okJpg = jpg(upscale(testImage(0), 2, true).gray, 56, 56);
  const corruptPng = Buffer.from(okPng);
  for (let i = 60; i < Math.min(corruptPng.length - 20, 200); i++) corruptPng[i] ^= 0x5a;
  const corruptJpg = Buffer.from(okJpg);
  for (let i = 400; i < 1400; i++) corruptJpg[i] = (i * 37) & 0xff;
  const px = Array.from(testImage(0));
  const at = (i: number, v: unknown) => px.map((p, k) => (k === i ? v : p));
  type Case = [
    name: string,
    status: number,
    error: string,
    init: { url?: string; type?: string; body?: string | Buffer },
  ];
  const J = 'application/json';
  const P = 'image/png';
  const cases: Case[] = [
    ['empty JSON body', 400, 'empty_body', { type: J, body: '' }],
    ['empty PNG body', 400, 'empty_body', { type: P, body: Buffer.alloc(0) }],
    ['no body, no content type', 400, 'empty_body', {}],
    ['wrong content type (text/plain)', 415, 'unsupported_media_type', { type: 'text/plain', body: 'a shoe' }],
    [
      'wrong content type (image/gif)',
      415,
      'unsupported_media_type',
      { type: 'image/gif', body: Buffer.from('GIF89a') },
    ],
    ['wrong content type (xml)', 415, 'unsupported_media_type', { type: 'application/xml', body: '<a/>' }],
    ['text sent as image/png', 415, 'unsupported_media_type', { type: P, body: 'hello, this is not a picture' }],
    ['truncated PNG', 422, 'corrupt_image', { type: P, body: okPng.subarray(0, Math.floor(okPng.length / 2)) }],
    ['PNG cut inside its header', 422, 'corrupt_image', { type: P, body: okPng.subarray(0, 20) }],
    ['corrupt PNG', 422, 'corrupt_image', { type: P, body: corruptPng }],
    [
      'truncated JPEG',
      422,
      'corrupt_image',
      { type: 'image/jpeg', body: okJpg.subarray(0, Math.floor(okJpg.length / 2)) },
    ],
    [
      'JPEG with nothing after its start marker',
      422,
      'corrupt_image',
      { type: 'image/jpeg', body: Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2, 3]) },
    ],
    ['corrupt JPEG', 422, 'corrupt_image', { type: 'image/jpeg', body: corruptJpg }],
    ['PNG claiming 30000×30000', 413, 'too_large', { type: P, body: pngDeclaring(30000, 30000, 1000) }],
    ['PNG claiming 0×0', 422, 'corrupt_image', { type: P, body: pngDeclaring(0, 0, 10) }],
    ['JPEG claiming 30000×30000', 413, 'too_large', { type: 'image/jpeg', body: jpegDeclaring(30000, 30000) }],
    ['interlaced PNG zlib bomb', 413, 'too_large', { type: P, body: pngDeclaring(100, 100, 50_000_000, true) }],
    ['783 pixels', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: px.slice(0, 783) }) }],
    ['785 pixels', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: [...px, 0] }) }],
    ['string pixels', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: px.map(String) }) }],
    ['one string pixel', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: at(5, '5') }) }],
    ['null pixel', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: at(5, null) }) }],
    ['pixel 256', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: at(7, 256) }) }],
    ['pixel -1', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: at(7, -1) }) }],
    ['pixel 1e400 (Infinity)', 422, 'invalid_input', { type: J, body: `{"pixels":[${px.slice(1).join(',')},1e400]}` }],
    ['pixels not an array', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: 'abc' }) }],
    ['nested pixel rows', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: [px.slice(0, 28)] }) }],
    ['no pixels field', 422, 'invalid_input', { type: J, body: JSON.stringify({ pics: px }) }],
    [
      'pixels and image both',
      422,
      'invalid_input',
      { type: J, body: JSON.stringify({ pixels: px, image: okPng.toString('base64') }) },
    ],
    ['unknown extra field', 422, 'invalid_input', { type: J, body: JSON.stringify({ pixels: px, colour: 'red' }) }],
    ['JSON array body', 422, 'invalid_input', { type: J, body: JSON.stringify(px) }],
    ['JSON string body', 422, 'invalid_input', { type: J, body: '"hello"' }],
    ['JSON number body', 422, 'invalid_input', { type: J, body: '42' }],
    ['broken JSON', 400, 'invalid_json', { type: J, body: '{"pixels": [1, 2,' }],
    ['not JSON at all', 400, 'invalid_json', { type: J, body: 'pixels=1,2,3' }],
    ['__proto__ in JSON', 400, 'invalid_json', { type: J, body: '{"__proto__": {"x": 1}, "pixels": []}' }],
    ['base64 that is not base64', 422, 'invalid_input', { type: J, body: JSON.stringify({ image: '***' }) }],
    [
      'base64 of text',
      415,
      'unsupported_media_type',
      { type: J, body: JSON.stringify({ image: Buffer.from('just text').toString('base64') }) },
    ],
    [
      'base64 of a truncated PNG',
      422,
      'corrupt_image',
      { type: J, body: JSON.stringify({ image: okPng.subarray(0, 100).toString('base64') }) },
    ],
    ['oversized raw body', 413, 'too_large', { type: P, body: Buffer.concat([okPng, Buffer.alloc(LIMIT)]) }],
    [
      'oversized JSON body',
      413,
      'too_large',
      { type: J, body: JSON.stringify({ pixels: px, pad: 'x'.repeat(LIMIT) }) },
    ],
    ['batch: empty list', 422, 'invalid_input', { url: '/v1/predict/batch', type: J, body: '{"images": []}' }],
    [
      'batch: images not a list',
      422,
      'invalid_input',
      { url: '/v1/predict/batch', type: J, body: '{"images": {"pixels": []}}' },
    ],
    [
      'batch: one bad image',
      422,
      'invalid_input',
      {
        url: '/v1/predict/batch',
        type: J,
        body: JSON.stringify({ images: [{ pixels: px }, { pixels: px.slice(1) }] }),
      },
    ],
    [
      'batch: one corrupt image',
      422,
      'corrupt_image',
      {
        url: '/v1/predict/batch',
        type: J,
        body: JSON.stringify({ images: [{ pixels: px }, { image: okPng.subarray(0, 60).toString('base64') }] }),
      },
    ],
    ['batch: broken JSON', 400, 'invalid_json', { url: '/v1/predict/batch', type: J, body: '{"images": [' }],
    ['batch: empty body', 400, 'empty_body', { url: '/v1/predict/batch', type: J, body: '' }],
    [
      'batch: wrong content type',
      415,
      'unsupported_media_type',
      { url: '/v1/predict/batch', type: 'text/csv', body: '1,2,3' },
    ],
  ];
  const failures: string[] = [];
  for (const [name, status, error, c] of cases) {
    const r = await app.inject({
      method: 'POST',
      url: c.url ?? '/v1/predict',
      headers: c.type ? { 'content-type': c.type } : {},
      payload: c.body,
    });
    let body: any = null;
    try {
      body = r.json();
    } catch {
      // reported below
    }
    if (r.statusCode !== status || body?.error !== error || typeof body?.message !== 'string' || !body.message)
      failures.push(`${name}: expected ${status} ${error}, got ${r.statusCode} ${r.body.slice(0, 200)}`);
  }
  assert.deepEqual(failures, []);
});

test('bad multipart uploads', async () => {
  const data = png(testImage(0), 28, 28);
  const mp = (files: Parameters<typeof multipartBody>[0], fields: Parameters<typeof multipartBody>[1] = []) =>
    multipartBody(files, fields);
  const cases: [string, number, string, { body: Buffer; contentType: string }, string?][] = [
    ['wrong field name', 422, 'invalid_input', mp([{ field: 'file', name: 'a.png', type: 'image/png', data }])],
    ['a text field only', 422, 'invalid_input', mp([], [{ name: 'image', value: 'hello' }])],
    ['no parts', 422, 'invalid_input', mp([])],
    [
      'two images on /v1/predict',
      422,
      'invalid_input',
      mp([
        { field: 'image', name: 'a.png', type: 'image/png', data },
        { field: 'image', name: 'b.png', type: 'image/png', data },
      ]),
    ],
    [
      'a corrupt file',
      422,
      'corrupt_image',
      mp([{ field: 'image', name: 'a.png', type: 'image/png', data: data.subarray(0, 50) }]),
    ],
    [
      'an oversized file',
      413,
      'too_large',
      mp([{ field: 'image', name: 'a.png', type: 'image/png', data: Buffer.concat([data, Buffer.alloc(LIMIT)]) }]),
    ],
    [
      'garbage with a multipart type',
      400,
      'bad_request',
      { body: Buffer.from('not really multipart'), contentType: 'multipart/form-data; boundary=xyz' },
    ],
    [
      'multipart without a boundary',
      400,
      'bad_request',
      { body: Buffer.from('x'), contentType: 'multipart/form-data' },
    ],
    [
      'batch: each file under the file limit, but more than the body limit in all',
      413,
      'too_large',
      mp(
        Array.from({ length: 10 }, (_, i) => ({
          field: 'image',
          name: `${i}.png`,
          type: 'image/png',
          data: Buffer.concat([data, Buffer.alloc(LIMIT - 1000)]),
        })),
      ),
      '/v1/predict/batch',
    ],
    [
      'batch: 257 files',
      422,
      'invalid_input',
      mp(Array.from({ length: 257 }, (_, i) => ({ field: 'image', name: `${i}.png`, type: 'image/png', data }))),
      '/v1/predict/batch',
    ],
  ];
  const failures: string[] = [];
  for (const [name, status, error, m, url] of cases) {
    const r = await app.inject({
      method: 'POST',
      url: url ?? '/v1/predict',
      headers: { 'content-type': m.contentType },
      payload: m.body,
    });
    let body: any = null;
    try {
      body = r.json();
    } catch {
      // reported below
    }
    if (r.statusCode !== status || body?.error !== error || !body?.message)
      failures.push(`${name}: expected ${status} ${error}, got ${r.statusCode} ${r.body.slice(0, 200)}`);
  }
  assert.deepEqual(failures, []);
});

test('randomly damaged PNG and JPEG files never cause a 5xx', async () => {
  const big = upscale(testImage(good[0]), 2, true);
  const files = [png(big.gray, big.w, big.h), jpg(big.gray, big.w, big.h)];
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const statuses = new Map<number, number>();
  for (let n = 0; n < 80; n++) {
    const f = Buffer.from(files[n % 2]);
    const kind = n % 4;
    let body: Buffer = f;
    if (kind === 0)
      for (let k = 0; k < 1 + rand() * 20; k++) f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
    else if (kind === 1) body = f.subarray(0, Math.floor(rand() * f.length));
    else if (kind === 2) for (let k = 0; k < 4; k++) f[8 + Math.floor(rand() * 40)] = Math.floor(rand() * 256);
    else
      body = Buffer.concat([f.subarray(0, Math.floor(rand() * f.length)), f.subarray(Math.floor(rand() * f.length))]);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': 'application/octet-stream' },
      payload: body,
    });
    statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    assert.ok(r.statusCode < 500, `damaged file ${n} gave ${r.statusCode}: ${r.body}`);
    if (r.statusCode !== 200) assert.ok(r.json().error && r.json().message);
  }
  assert.ok((statuses.get(200) ?? 0) < 80, 'some damaged files should be refused');
});

test('a body that stops arriving gets a 408 after the timeout', async () => {
  const slow = await buildServer({ models: [torchDir], timeoutMs: 300 });
  try {
    const payload = new Readable({ read() {} });
    payload.push('{"pixels": [1, 2, 3');
    const r = await slow.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': 'application/json', 'content-length': '5000' },
      payload,
    });
    assertError(r, 408, 'timeout');
    assert.equal(r.headers.connection, 'close');
    payload.push(null);
    const ok = await slow.inject({ method: 'GET', url: '/healthz' });
    assert.equal(ok.statusCode, 200);
  } finally {
    await slow.close();
  }
});

test('unknown routes and methods are 404 JSON', async () => {
  assertError(await app.inject({ method: 'GET', url: '/v1/predict' }), 404, 'not_found');
  assertError(await app.inject({ method: 'DELETE', url: '/v1/models' }), 404, 'not_found');
  assertError(await app.inject({ method: 'GET', url: '/v2/anything' }), 404, 'not_found');
  assertError(await app.inject({ method: 'GET', url: '/healthz?x=1' }), 400, 'bad_request');
});

test('GET /metrics: request counts by route and status, latency histogram, and no 5xx so far', async () => {
  const r = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['content-type']), /text\/plain; version=0.0.4/);
  const t = r.body;
  assert.match(t, /^# TYPE fmnist_http_requests_total counter$/m);
  assert.match(t, /^fmnist_http_requests_total\{method="POST",route="\/v1\/predict",status="200"\} \d+$/m);
  assert.match(t, /^fmnist_http_requests_total\{method="POST",route="\/v1\/predict",status="422"\} \d+$/m);
  assert.match(t, /^fmnist_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+$/m);
  assert.match(t, /^# TYPE fmnist_http_request_duration_seconds histogram$/m);
  assert.match(t, /^fmnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="0.005"\} \d+$/m);
  assert.match(t, /^fmnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="\+Inf"\} \d+$/m);
  assert.match(t, /^fmnist_inference_batch_size_bucket\{model="keras-dense",le="1"\} \d+$/m);
  assert.match(t, /^process_resident_memory_bytes \d+$/m);
  assert.doesNotMatch(t, /status="5\d\d"/, 'no request so far may have caused a 5xx');
  const health = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
});

test('a model that cannot be loaded stops startup with a clear error', async () => {
  await assert.rejects(
    buildServer({ models: [join(tmp.dir, 'missing')] }),
    /cannot load model '.*missing': run folder not found/,
  );
  await assert.rejects(buildServer({ models: [] }), /no models given/);
  // A run folder whose model file is gone.
  const broken = join(tmp.dir, 'broken');
  const { cpSync, rmSync } = await import('node:fs');
  cpSync(torchDir, broken, { recursive: true });
  rmSync(join(broken, 'model.pt'));
  await assert.rejects(
    buildServer({ models: [torchDir, broken] }),
    /cannot load model '.*broken': .*model\.pt: missing \(listed in SHA256SUMS\)/,
  );
  // A loader failure (as Keras runs give until the Keras side lands) names the folder and the cause.
  await assert.rejects(
    buildServer({
      models: [kerasDir],
      loader: async () => {
        throw new Error(`${kerasDir}: Keras runs are not supported yet`);
      },
    }),
    /cannot load model '.*keras-dense': .*not supported yet/,
  );
});

// ---------- the command line ----------

/** Runs `fmnist <args>` from source; resolves once it prints its address (or exits). */
function startCli(args: string[]) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./src/cli/index.ts').then((m) => m.main(process.argv))", 'fmnist', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const listening = new Promise<string>((res, rej) => {
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) res(m[1]);
    });
    exited.then((code) => rej(new Error(`fmnist exited with ${code}: ${stderr}`)));
  });
  listening.catch(() => {}); // Awaited by the tests that expect it to start.
  return { child, listening, exited, out: () => ({ stdout, stderr }) };
}

test('fmnist serve: a model that cannot be loaded is a clear startup error', async () => {
  const cli = startCli(['serve', '--model', join(tmp.dir, 'nope'), '--port', '0']);
  assert.equal(await cli.exited, 1);
  assert.match(cli.out().stderr, /fmnist: error: cannot load model '.*nope': run folder not found/);
});

test('fmnist serve: answers, then finishes an open request and exits 0 on SIGTERM', async () => {
  const cli = startCli(['serve', '--model', torchDir, '--host', '127.0.0.1', '--port', '0']);
  const url = await cli.listening;
  assert.match(cli.out().stdout, /models: pytorch-cnn/);
  const health = await fetch(url + '/healthz');
  assert.equal(health.status, 200);
  // Half a request body, then SIGTERM, then the rest: the answer must still come.
  const body = JSON.stringify({ pixels: Array.from(testImage(good[0])) });
  const answer = new Promise<{ status: number; body: string }>((res, rej) => {
    const req = request(
      url + '/v1/predict',
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (r) => {
        let text = '';
        r.on('data', (d) => (text += d));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', rej);
    req.write(body.slice(0, 1000));
    setTimeout(() => {
      cli.child.kill('SIGTERM');
      setTimeout(() => req.end(body.slice(1000)), 300);
    }, 200);
  });
  const r = await answer;
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).predictions[0].top[0].label, fashionTest().labels[good[0]]);
  assert.equal(await cli.exited, 0);
  assert.match(cli.out().stderr, /SIGTERM: finishing open requests/);
  assert.match(cli.out().stderr, /stopped/);
  await assert.rejects(fetch(url + '/healthz'));
});
