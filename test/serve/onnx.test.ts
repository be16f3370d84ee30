// `fmnist serve --engine onnx`: the same API answers as the default engine, computed by onnxruntime-node from the
// run's model.onnx (exported at startup when the folder has none), for a run of either framework and an ensemble.
// Setup trains the tiny PyTorch CNN and Keras dense net of the other serving tests (1 epoch on 2,000 images).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serve/server.js';
import { predictorLoader } from '../../src/serve/models.js';
import { readRun, writeRunInfo } from '../../src/runs/files.js';
import { assertClose } from '../torch/helpers.js';
import { cli } from '../helpers/cli.js';
import { tempDir, testImage, trainTinyKeras, trainTinyPytorch } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let torchDir: string;
let kerasDir: string;
let ensembleDir: string;
let framework: FastifyInstance;
let onnx: FastifyInstance;

before(async () => {
  tmp = tempDir('fmnist-serve-onnx-');
  torchDir = await trainTinyPytorch(join(tmp.dir, 'pytorch-cnn'));
  kerasDir = await trainTinyKeras(join(tmp.dir, 'keras-dense'));
  // An ensemble folder of that run twice: the onnx engine loads each member as a session of its own.
  ensembleDir = join(tmp.dir, 'ensemble');
  mkdirSync(ensembleDir);
  const { info } = readRun(torchDir);
  const member = { dir: torchDir, framework: 'pytorch' as const, model: info.model, params: info.params };
  writeRunInfo(ensembleDir, {
    ...info,
    framework: 'ensemble',
    model: 'ensemble',
    modelFile: 'run.json',
    members: [member, member],
    params: 2 * info.params,
  });
  framework = await buildServer({ models: [torchDir, kerasDir, ensembleDir] });
  assert.ok(!existsSync(join(torchDir, 'model.onnx')), 'the default engine exports nothing');
  onnx = await buildServer({ models: [torchDir, kerasDir, ensembleDir], loader: predictorLoader('onnx') });
});
after(async () => {
  await framework?.close();
  await onnx?.close();
  tmp?.cleanup();
});

test('the onnx engine exported model.onnx at startup, for the Keras run too', () => {
  assert.ok(existsSync(join(torchDir, 'model.onnx')));
  assert.ok(existsSync(join(kerasDir, 'model.onnx')));
});

test('/v1/predict and /v1/predict/batch: the onnx engine answers as libtorch and tfjs do (1e-4)', async () => {
  const ask = (app: FastifyInstance, url: string, payload: object) =>
    app.inject({ method: 'POST', url, payload }).then((r) => {
      assert.equal(r.statusCode, 200, r.body);
      return r.json();
    });
  for (const i of [0, 1, 2]) {
    const body = { pixels: Array.from(testImage(i)) };
    const [a, b] = await Promise.all([ask(framework, '/v1/predict', body), ask(onnx, '/v1/predict', body)]);
    assert.equal(b.predictions.length, 3);
    for (let k = 0; k < 3; k++) {
      assert.equal(b.predictions[k].model, a.predictions[k].model);
      assert.equal(b.predictions[k].top[0].label, a.predictions[k].top[0].label);
      assertClose(b.predictions[k].probabilities, a.predictions[k].probabilities, `image ${i}, model ${k}`, {
        rtol: 0,
        atol: 1e-4,
      });
    }
  }
  const images = Array.from({ length: 40 }, (_, i) => ({ pixels: Array.from(testImage(100 + i)) }));
  const [a, b] = await Promise.all([
    ask(framework, '/v1/predict/batch', { images }),
    ask(onnx, '/v1/predict/batch', { images }),
  ]);
  const probs = (r: any) => r.results.flatMap((x: any) => x.predictions.flatMap((p: any) => p.probabilities));
  assert.equal(probs(b).length, 40 * 3 * 10);
  assertClose(probs(b), probs(a), 'a batch of 40', { rtol: 0, atol: 1e-4 });
});

test('/v1/models: the same description whichever engine computes', async () => {
  const [a, b] = await Promise.all([
    framework.inject({ method: 'GET', url: '/v1/models' }),
    onnx.inject({ method: 'GET', url: '/v1/models' }),
  ]);
  assert.deepEqual(b.json(), a.json());
});

test('fmnist serve --engine: an unknown one is a one-line error', async () => {
  const r = await cli(['serve', '--model', torchDir, '--engine', 'tflite', '--port', '0']);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /^fmnist: error: --engine tflite: unknown engine \(known: framework, onnx\)\n$/);
});

test('fmnist serve --engine onnx: starts, says so, answers, exits 0 on SIGTERM', async () => {
  rmSync(join(torchDir, 'model.onnx'));
  const child = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', '-e', "import('./src/cli/index.ts').then((m) => m.main(process.argv))", 'fmnist'],
      ...['serve', '--model', torchDir, '--engine', 'onnx', '--host', '127.0.0.1', '--port', '0'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) res(m[1]);
    });
    exited.then((code) => rej(new Error(`fmnist exited with ${code}: ${stderr}`)));
  });
  try {
    assert.match(stdout, /models: pytorch-cnn; engine onnx/);
    const r = await fetch(url + '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pixels: Array.from(testImage(0)) }),
    });
    assert.equal(r.status, 200);
    const j = (await r.json()) as { predictions: { probabilities: number[] }[] };
    const ref = await framework.inject({
      method: 'POST',
      url: '/v1/predict',
      payload: { pixels: Array.from(testImage(0)) },
    });
    assertClose(j.predictions[0].probabilities, ref.json().predictions[0].probabilities, 'over HTTP', {
      rtol: 0,
      atol: 1e-4,
    });
    assert.ok(existsSync(join(torchDir, 'model.onnx')), 'exported again at startup');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
