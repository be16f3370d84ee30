// The routes behind the page's ONNX engine, through fastify.inject with stand-in predictors (no training):
// /v1/models/:id/model.onnx and its injectable onnxFile, and onnxruntime-web's files under /vendor/ort/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/serve/server.js';
import { ORT_FILES, OrtFiles, ortDistDir } from '../../src/serve/static.js';
import type { Predictor } from '../../src/runs/predictor.js';
import type { RunInfo } from '../../src/runs/files.js';
import { tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let app: FastifyInstance;
const dirs: Record<string, string> = {};
const ONNX_BYTES = Buffer.from('not really onnx, but the server only passes bytes on');

/** A predictor that answers uniform probabilities: the routes here never look at the numbers. */
function stubLoader(frameworks: Record<string, string>) {
  return async (dir: string): Promise<Predictor> => {
    const framework = frameworks[dir];
    const model = framework === 'ensemble' ? 'ensemble' : 'cnn';
    const info = { framework, model, params: 1, modelFile: 'model.json' } as unknown as RunInfo;
    return { dir, info, metrics: null, predict: (_x, n) => new Float32Array(n * 10).fill(0.1), dispose: () => {} };
  };
}

before(async () => {
  tmp = tempDir('fmnist-onnx-routes-');
  for (const name of ['with-onnx', 'without-onnx', 'ens']) {
    dirs[name] = join(tmp.dir, name);
    mkdirSync(dirs[name]);
  }
  writeFileSync(join(dirs['with-onnx'], 'model.onnx'), ONNX_BYTES);
  // An ensemble folder with a model.onnx is still not offered: its members are separate runs.
  writeFileSync(join(dirs.ens, 'model.onnx'), ONNX_BYTES);
  app = await buildServer({
    models: [dirs['with-onnx'], dirs['without-onnx'], dirs.ens],
    loader: stubLoader({ [dirs['with-onnx']]: 'pytorch', [dirs['without-onnx']]: 'keras', [dirs.ens]: 'ensemble' }),
  });
});

after(async () => {
  await app?.close();
  tmp?.cleanup();
});

function assertNotFound(r: LightMyRequestResponse, message?: RegExp) {
  assert.equal(r.statusCode, 404, r.body);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const b = r.json();
  assert.equal(b.error, 'not_found');
  if (message) assert.match(b.message, message);
}

test('/v1/models offers model.onnx for runs of either framework, not for ensembles', async () => {
  const { models } = (await app.inject({ method: 'GET', url: '/v1/models' })).json();
  assert.deepEqual(
    models.map((m: any) => [m.id, m.onnx, m.onnxUnavailable === null]),
    [
      ['with-onnx', { model: '/v1/models/with-onnx/model.onnx' }, true],
      ['without-onnx', { model: '/v1/models/without-onnx/model.onnx' }, true],
      ['ens', null, false],
    ],
  );
  assert.match(models[2].onnxUnavailable, /ensemble runs on the server only/);
});

test('GET /v1/models/:id/model.onnx serves the run folder’s file, or a JSON 404 that says why', async () => {
  const r = await app.inject({ method: 'GET', url: '/v1/models/with-onnx/model.onnx' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.deepEqual(r.rawPayload, ONNX_BYTES);
  assertNotFound(
    await app.inject({ method: 'GET', url: '/v1/models/without-onnx/model.onnx' }),
    /^model 'without-onnx' has no ONNX file: the run folder has no model\.onnx$/,
  );
  assertNotFound(
    await app.inject({ method: 'GET', url: '/v1/models/ens/model.onnx' }),
    /^model 'ens' has no ONNX file: an ensemble runs on the server only/,
  );
  assertNotFound(await app.inject({ method: 'GET', url: '/v1/models/nope/model.onnx' }), /no model 'nope'/);
  // model.onnx is not one of the files the generic route serves, and no other spelling reaches it.
  for (const url of [
    '/v1/models/with-onnx/model.ONNX',
    '/v1/models/with-onnx/..%2Fwith-onnx%2Fmodel.onnx',
    '/v1/models/with-onnx/model.onnx/x',
  ])
    assertNotFound(await app.inject({ method: 'GET', url }));
  const q = await app.inject({ method: 'GET', url: '/v1/models/with-onnx/model.onnx?x=1' });
  assert.equal(q.statusCode, 400, q.body);
});

test('onnxFile is injectable: asked once per model at a time, asked again after a failure', async () => {
  const made = join(tmp.dir, 'exported.onnx');
  const calls: string[] = [];
  let fail = true;
  let release: () => void = () => {};
  const gate = new Promise<void>((res) => (release = res));
  const server = await buildServer({
    models: [dirs['without-onnx']],
    loader: stubLoader({ [dirs['without-onnx']]: 'keras' }),
    onnxFile: async (dir) => {
      calls.push(dir);
      if (fail) {
        fail = false;
        throw new Error('cannot export: layer Foo has no ONNX form');
      }
      await gate;
      writeFileSync(made, ONNX_BYTES);
      return made;
    },
  });
  try {
    const url = '/v1/models/without-onnx/model.onnx';
    assertNotFound(
      await server.inject({ method: 'GET', url }),
      /^model 'without-onnx' has no ONNX file: cannot export: layer Foo has no ONNX form$/,
    );
    // Two requests while the export runs share it.
    const both = Promise.all([server.inject({ method: 'GET', url }), server.inject({ method: 'GET', url })]);
    await new Promise((res) => setImmediate(res));
    release();
    for (const r of await both) {
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.rawPayload, ONNX_BYTES);
    }
    assert.deepEqual(calls, [dirs['without-onnx'], dirs['without-onnx']]);
    // Served again without asking; once the file is gone, the next request asks again.
    assert.equal((await server.inject({ method: 'GET', url })).statusCode, 200);
    assert.equal(calls.length, 2);
    rmSync(made);
    assertNotFound(await server.inject({ method: 'GET', url }), /no longer on disk/);
    assert.equal((await server.inject({ method: 'GET', url })).statusCode, 200);
    assert.equal(calls.length, 3);
  } finally {
    await server.close();
  }
});

test('/vendor/ort/ serves onnxruntime-web’s module and wasm, with their types, and nothing else', async () => {
  const dist = ortDistDir();
  assert.ok(dist, 'onnxruntime-web is installed');
  for (const [name, type] of [
    ['ort.wasm.bundle.min.mjs', 'text/javascript; charset=utf-8'],
    ['ort-wasm-simd-threaded.wasm', 'application/wasm'],
  ]) {
    const url = `/vendor/ort/${name}`;
    const r = await app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, url);
    assert.equal(r.headers['content-type'], type);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.rawPayload.length, statSync(join(dist, name)).size);
    const again = await app.inject({ method: 'GET', url, headers: { 'if-none-match': String(r.headers.etag) } });
    assert.equal(again.statusCode, 304, url);
  }
  assert.deepEqual([...ORT_FILES].sort(), ['ort-wasm-simd-threaded.wasm', 'ort.wasm.bundle.min.mjs']);
  // Other files of the same folder, the package's own files, and ways out of the folder.
  for (const url of [
    '/vendor/ort/ort.min.mjs',
    '/vendor/ort/ort-wasm-simd-threaded.mjs',
    '/vendor/ort/ort-wasm-simd-threaded.jsep.wasm',
    '/vendor/ort/ort.wasm.bundle.min.mjs.map',
    '/vendor/ort/..%2Fpackage.json',
    '/vendor/ort/%2E%2E%2Fpackage.json',
    '/vendor/ort/../package.json',
    '/vendor/ort/.%2E/.%2E/package.json',
    '/vendor/ort/',
    '/vendor/ort/a/ort.wasm.bundle.min.mjs',
  ])
    assertNotFound(await app.inject({ method: 'GET', url }));
  // The bytes are the package's.
  const mjs = await app.inject({ method: 'GET', url: '/vendor/ort/ort.wasm.bundle.min.mjs' });
  assert.deepEqual(mjs.rawPayload, readFileSync(join(dist, 'ort.wasm.bundle.min.mjs')));
});

test('OrtFiles without the package gives nothing', async () => {
  const none = new OrtFiles(null);
  assert.equal(none.available, false);
  assert.equal(await none.get('ort.wasm.bundle.min.mjs'), null);
  const some = new OrtFiles(ortDistDir());
  assert.equal(await some.get('package.json'), null);
  assert.equal((await some.get('ort-wasm-simd-threaded.wasm'))?.type, 'application/wasm');
});
