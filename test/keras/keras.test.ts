// The Keras implementation end to end: parameter counts, a short fit on real data, and the
// saved model loaded by unmodified @tensorflow/tfjs on its plain cpu backend (over HTTP, as a
// browser would) giving the same predictions as our backend.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, extname } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getModel } from '../../src/models/index.js';
import { useTorchBackend } from '../../src/tfjs-backend/index.js';
import { makeConfig } from '../../src/runs/config.js';
import { runTraining } from '../../src/cli/commands/train.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import { readTestProbs } from '../../src/runs/files.js';
import { SYSTEM_DATA_DIR } from '../../src/data/index.js';
import { kerasEngine } from '../../src/engines/keras.js';
import type { OptimizerSpec } from '../../src/engines/types.js';

const kerasCnn = () => getModel('cnn').keras(tfl);
const kerasDense = () => getModel('dense').keras(tfl);

const hasData = existsSync(join(SYSTEM_DATA_DIR, 'train-images-idx3-ubyte.gz'));

describe('keras models', () => {
  test('parameter counts match the seed (dense 109,386, cnn 225,034)', async () => {
    await useTorchBackend();
    const d = kerasDense();
    const c = kerasCnn();
    assert.equal(d.countParams(), 109386);
    assert.equal(c.countParams(), 225034);
    d.dispose();
    c.dispose();
  });

  // tfjs's SGD and momentum optimizers keep -lr in a scalar that only their setLearningRate() replaces: assigning the
  // learningRate field (all Adam needs) left them at the initial rate, so the loop's schedule never reached them.
  for (const optimizer of [
    { name: 'sgd', lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 },
    { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0 },
    { name: 'adam', lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 },
  ] satisfies OptimizerSpec[]) {
    test(`setLearningRate reaches tfjs's ${optimizer.name}${optimizer.momentum ? ' with momentum' : ''}: lr 0 leaves the weights`, async () => {
      const model = await kerasEngine.build(getModel('dense'), { optimizer, labelSmoothing: 0, threads: 1 });
      const n = 8;
      const images = Float32Array.from({ length: n * 784 }, (_, i) => (i % 17) / 17);
      const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
      const keras = (model as unknown as { model: tfl.LayersModel }).model;
      const weights = () => keras.getWeights().map((w) => Array.from(w.dataSync()));
      await model.trainStep(images, labels, n); // a step at 0.1 first: momentum's accumulator is not zero
      const before = weights();
      model.setLearningRate(0);
      await model.trainStep(images, labels, n);
      assert.deepEqual(weights(), before);
      model.setLearningRate(0.1);
      await model.trainStep(images, labels, n);
      assert.notDeepEqual(weights(), before);
      model.dispose();
    });
  }
});

describe('keras training end to end', { skip: hasData ? false : `no data in ${SYSTEM_DATA_DIR}` }, () => {
  let dir = '';
  let server: Server;
  let base = '';
  let tensorsBefore = 0;
  let tensorsAfter = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-keras-'));
    const cfg = makeConfig({
      framework: 'keras',
      model: 'cnn',
      epochs: 2,
      valSplit: 0.1, // the history's validation columns are checked
      limit: 1500,
      testLimit: 300,
      threads: 2,
      dataDir: SYSTEM_DATA_DIR,
      out: dir,
    });
    await useTorchBackend();
    tensorsBefore = tf.memory().numTensors;
    await runTraining(cfg, () => {});
    tensorsAfter = tf.memory().numTensors;
    server = createServer((req, res) => {
      const file = join(dir, (req.url ?? '/').replace(/^\/+/, '').replace(/\.\./g, ''));
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': extname(file) === '.json' ? 'application/json' : 'application/octet-stream',
      });
      res.end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the run folder holds model.json, its weights, run.json, history.json and metrics.json', () => {
    for (const f of ['model.json', 'weights.bin', 'run.json', 'history.json', 'metrics.json', 'test-probs.bin'])
      assert.ok(existsSync(join(dir, f)), `${f} missing`);
    const model = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(model.format, 'layers-model');
    assert.deepEqual(model.weightsManifest[0].paths, ['./weights.bin']);
    const history = JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')).epochs;
    assert.equal(history.length, 2);
    for (const k of ['epoch', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'seconds'])
      assert.equal(typeof history[0][k], 'number', k);
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    assert.equal(metrics.framework, 'keras');
    assert.equal(metrics.params, 225034);
    assert.ok(metrics.testAccuracy > 0.5, `test accuracy ${metrics.testAccuracy} after 2 short epochs`);
  });

  test('training leaves no tensors behind (tf.memory().numTensors is back where it started)', () => {
    assert.equal(tensorsAfter, tensorsBefore);
  });

  test('loadPredictor reproduces the saved test probabilities', async () => {
    const p = await loadPredictor(dir);
    const { loadFashionMnist } = await import('../../src/data/index.js');
    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, verify: false });
    const probs = await p.predict(fm.test.images.subarray(0, 300 * 784), 300);
    const saved = readTestProbs(dir)!;
    for (let i = 0; i < probs.length; i++) assert.ok(Math.abs(probs[i] - saved[i]) < 1e-5, `prob ${i}`);
    p.dispose();
  });

  test('unmodified @tensorflow/tfjs (cpu backend) loads model.json over HTTP and predicts the same', async () => {
    await useTorchBackend();
    const x = Float32Array.from({ length: 4 * 784 }, (_, i) => ((i * 37) % 255) / 255);
    const p = await loadPredictor(dir);
    const ours = await p.predict(x, 4);
    p.dispose();
    // A separate process that imports only the stock package, as a browser page would.
    const code = `
      const tf = require('@tensorflow/tfjs');
      (async () => {
        await tf.setBackend('cpu');
        const m = await tf.loadLayersModel('${base}/model.json');
        const x = Float32Array.from({ length: 4 * 784 }, (_, i) => ((i * 37) % 255) / 255);
        const y = m.predict(tf.tensor4d(x, [4, 28, 28, 1]));
        console.log(JSON.stringify({ backend: tf.getBackend(), probs: Array.from(y.dataSync()) }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    // Async: this process must keep serving the files while the child loads them.
    const r = await promisify(execFile)(process.execPath, ['-e', code], { encoding: 'utf8', cwd: process.cwd() });
    const stock = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(stock.backend, 'cpu');
    assert.equal(stock.probs.length, 40);
    for (let i = 0; i < 40; i++)
      assert.ok(Math.abs(stock.probs[i] - ours[i]) < 1e-4, `prob ${i}: stock ${stock.probs[i]} vs ours ${ours[i]}`);
  });

  test('tf.memory().numTensors does not grow across predictions', async () => {
    const p = await loadPredictor(dir);
    const x = new Float32Array(10 * 784);
    await p.predict(x, 10);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await p.predict(x, 10);
    assert.equal(tf.memory().numTensors, before);
    p.dispose();
  });
});

describe('keras runs are repeatable', { skip: hasData ? false : `no data in ${SYSTEM_DATA_DIR}` }, () => {
  test('the same --seed gives the same losses; another seed does not', async () => {
    const losses: number[] = [];
    for (const seed of [7, 7, 8]) {
      const out = mkdtempSync(join(tmpdir(), 'fmnist-keras-seed-'));
      try {
        const cfg = makeConfig({
          framework: 'keras',
          model: 'dense',
          epochs: 1,
          limit: 1000,
          testLimit: 100,
          seed,
          threads: 1,
          dataDir: SYSTEM_DATA_DIR,
          out,
        });
        const r = await runTraining(cfg, () => {});
        losses.push(r.history[0].loss);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
    assert.equal(losses[0], losses[1]);
    assert.notEqual(losses[0], losses[2]);
  });
});
