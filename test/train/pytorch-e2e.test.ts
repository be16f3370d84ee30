// End to end on a slice of the real Fashion-MNIST: train the dense model for 2 epochs, check the run folder,
// reload it with loadPredictor, evaluate it through the CLI, and (when Python torch is there) in Python.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLASS_NAMES, SYSTEM_DATA_DIR } from '../../src/data/index.js';
import { makeConfig, type TrainConfig } from '../../src/runs/config.js';
import { prepareData, type PreparedData } from '../../src/train/prepare.js';
import { train, type TrainResult } from '../../src/train/loop.js';
import { readTestProbs, type MetricsJson, type RunInfo, type EpochRecord } from '../../src/runs/files.js';
import { getModel } from '../../src/models/index.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import { cli } from '../helpers/cli.js';
import { assertClose, pythonTorchMissing, runPython } from '../torch/helpers.js';

const skip = existsSync(SYSTEM_DATA_DIR)
  ? false
  : `${SYSTEM_DATA_DIR} is missing (apt-get install dataset-fashion-mnist)`;
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** Runs the CLI in-process; returns what it printed and the exit code it set (restoring process.exitCode). */
describe('pytorch training end to end (dense, 2 epochs, 3000 train / 1000 test images)', { skip }, () => {
  let dir = '';
  let cfg: TrainConfig;
  let data: PreparedData;
  let result: TrainResult;
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-e2e-'));
    cfg = makeConfig({
      framework: 'pytorch',
      model: 'dense',
      epochs: 2,
      limit: 3000,
      testLimit: 1000,
      out: dir,
      dataDir: SYSTEM_DATA_DIR,
      threads: 2,
    });
    data = await prepareData(cfg);
    result = await train(cfg, data, (s) => logs.push(s));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the data slice: 2700 train / 300 validation (stratified 10%), 1000 test', () => {
    assert.equal(data.train.count, 2700);
    assert.equal(data.val?.count, 300);
    assert.equal(data.test.count, 1000);
    assert.deepEqual(data.summary, {
      ...data.summary,
      trainCount: 2700,
      valCount: 300,
      testCount: 1000,
      verified: true,
    });
  });

  test('the run folder has run.json, history.json, metrics.json, test-probs.bin and model.pt', () => {
    for (const f of ['run.json', 'history.json', 'metrics.json', 'test-probs.bin', 'model.pt'])
      assert.ok(existsSync(join(dir, f)), `${f} is missing`);
    assert.equal(readFileSync(join(dir, 'model.pt')).subarray(0, 2).toString('latin1'), 'PK');
    assert.ok(
      logs.some((l) => /^epoch 2\/2 {2}loss /.test(l)),
      logs.join('\n'),
    );
    assert.ok(
      logs.some((l) => /^test accuracy 0\.\d{4}/.test(l)),
      logs.join('\n'),
    );
  });

  test('run.json describes the run', () => {
    const info = readJson<RunInfo>(join(dir, 'run.json'));
    assert.equal(info.framework, 'pytorch');
    assert.equal(info.model, 'dense');
    assert.equal(info.params, 109_386);
    assert.equal(info.definition, getModel('dense').definition);
    assert.equal(info.modelFile, 'model.pt');
    assert.deepEqual(info.config, cfg);
    assert.deepEqual(info.data, data.summary);
    assert.match(info.engine.libtorch, /^1\.13/);
    assert.ok(!Number.isNaN(Date.parse(info.createdAt)));
  });

  test('history.json has one record per epoch with epoch, loss, accuracy, valLoss, valAccuracy, seconds', () => {
    const { epochs } = readJson<{ epochs: EpochRecord[] }>(join(dir, 'history.json'));
    assert.equal(epochs.length, 2);
    assert.deepEqual(epochs, result.history);
    epochs.forEach((e, i) => {
      for (const k of ['epoch', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'seconds'] as const)
        assert.equal(typeof e[k], 'number', `epoch ${i + 1}: ${k} is ${e[k]}`);
      assert.equal(e.epoch, i + 1);
      assert.ok(e.loss > 0 && Number.isFinite(e.loss));
      assert.ok(e.accuracy > 0.1 && e.accuracy <= 1);
      assert.ok(e.valAccuracy! > 0.1 && e.valAccuracy! <= 1);
      assert.ok(e.seconds > 0);
    });
    assert.ok(epochs[1].loss < epochs[0].loss, 'the training loss goes down');
  });

  test('metrics.json has the test metrics, per-class table and a confusion matrix over the test slice', () => {
    const m = readJson<MetricsJson>(join(dir, 'metrics.json'));
    assert.deepEqual(m, JSON.parse(JSON.stringify(result.metrics)));
    assert.equal(m.framework, 'pytorch');
    assert.equal(m.model, 'dense');
    assert.equal(m.params, 109_386);
    assert.equal(m.epochs, 2);
    assert.ok(m.testAccuracy > 0.6, `test accuracy ${m.testAccuracy}`);
    assert.ok(m.testLoss > 0 && m.testLoss < 1.5, `test loss ${m.testLoss}`);
    const hist = result.history;
    assert.ok(Math.abs(m.trainSeconds - (hist[0].seconds + hist[1].seconds)) < 1e-9);
    assert.equal(m.perClass.length, 10);
    m.perClass.forEach((c, i) => {
      assert.deepEqual(Object.keys(c).sort(), ['f1', 'label', 'name', 'precision', 'recall', 'support']);
      assert.equal(c.label, i);
      assert.equal(c.name, CLASS_NAMES[i]);
      for (const k of ['precision', 'recall', 'f1'] as const)
        assert.ok(c[k] >= 0 && c[k] <= 1, `${c.name} ${k} ${c[k]}`);
    });
    const cm = m.confusionMatrix;
    assert.equal(cm.length, 10);
    assert.ok(cm.every((row) => row.length === 10 && row.every((v) => Number.isInteger(v) && v >= 0)));
    const total = cm.flat().reduce((a, b) => a + b, 0);
    assert.equal(total, data.test.count);
    cm.forEach((row, i) =>
      assert.equal(
        row.reduce((a, b) => a + b, 0),
        m.perClass[i].support,
      ),
    );
    const trace = cm.reduce((s, row, i) => s + row[i], 0);
    assert.ok(Math.abs(m.testAccuracy - trace / total) < 1e-12);
    assert.ok(m.ece >= 0 && m.ece < 0.3);
  });

  test('test-probs.bin holds 1000 × 10 probabilities that agree with metrics.json', () => {
    const probs = readTestProbs(dir)!;
    assert.equal(probs.length, 1000 * 10);
    let correct = 0;
    for (let i = 0; i < 1000; i++) {
      const row = probs.subarray(i * 10, i * 10 + 10);
      const sum = row.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `row ${i} sums to ${sum}`);
      const best = row.indexOf(Math.max(...row));
      if (best === data.test.labels[i]) correct++;
    }
    assert.ok(Math.abs(correct / 1000 - result.metrics.testAccuracy) < 1e-12);
  });

  test('loadPredictor(dir) reproduces the saved test probabilities', async () => {
    const p = await loadPredictor(dir);
    try {
      assert.equal(p.info.framework, 'pytorch');
      assert.equal(p.metrics?.testAccuracy, result.metrics.testAccuracy);
      const probs = await p.predict(data.test.images, data.test.count);
      assertClose(probs, readTestProbs(dir)!, 'reloaded probabilities', { rtol: 0, atol: 1e-6 });
    } finally {
      p.dispose();
    }
  });

  test('`fmnist evaluate <dir> --json` prints the metrics of the full test set', async () => {
    const r = await cli(['evaluate', dir, '--json', '--data-dir', SYSTEM_DATA_DIR]);
    assert.equal(r.exitCode, 0, r.stderr);
    const ev = JSON.parse(r.stdout);
    assert.equal(ev.framework, 'pytorch');
    assert.equal(ev.model, 'dense');
    assert.equal(ev.params, 109_386);
    assert.ok(ev.accuracy > 0.6, `accuracy ${ev.accuracy}`);
    assert.equal(ev.perClass.length, 10);
    assert.equal(
      ev.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      10_000,
    );
    assert.equal(ev.predicted, undefined, 'per-image arrays are left out of the JSON');
    // the first 1000 test images are the slice the run was tested on
    assert.ok(Math.abs(ev.accuracy - result.metrics.testAccuracy) < 0.05);
  });

  test('`fmnist evaluate` on a folder that is not a run fails with a message and exit code 1', async () => {
    const r = await cli(['evaluate', join(dir, 'nope'), '--json']);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /fmnist: error: .*nope: run folder not found/);
    assert.equal(r.stdout, '');
  });

  test(
    'Python rebuilds the model from run.json and model.pt and gives the same probabilities',
    { skip: pythonTorchMissing() },
    () => {
      const n = 50;
      writeFileSync(join(dir, 'x.bin'), data.test.images.subarray(0, n * 784));
      runPython(
        `
import json, sys
import numpy as np
import torch
from torch import nn
d = sys.argv[1]
info = json.load(open(d + '/run.json'))
m = eval(info['definition'])
m.load_state_dict(torch.load(d + '/' + info['modelFile']), strict=True)
m.eval()
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(-1, 1, 28, 28))
with torch.no_grad():
    m(x).softmax(1).numpy().tofile(d + '/py-probs.bin')
`,
        [dir],
      );
      const b = readFileSync(join(dir, 'py-probs.bin'));
      const py = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      assertClose(py, readTestProbs(dir)!.subarray(0, n * 10), 'python probabilities', { rtol: 0, atol: 1e-5 });
    },
  );
});

describe('makeConfig', () => {
  test('fills in the defaults, per model', () => {
    const c = makeConfig({});
    assert.equal(c.framework, 'pytorch');
    assert.equal(c.model, 'cnn');
    assert.equal(c.epochs, getModel('cnn').defaultEpochs);
    assert.equal(c.out, 'runs/pytorch-cnn');
    assert.equal(c.lrSchedule, 'cosine');
    assert.equal(c.patience, 0, "cnn's own default patience");
    const d = makeConfig({ model: 'dense', framework: 'keras', epochs: undefined });
    assert.equal(d.epochs, getModel('dense').defaultEpochs);
    assert.equal(d.patience, 5, 'the default patience for a model that names none');
    assert.equal(d.out, 'runs/keras-dense');
    assert.equal(d.batchSize, 64);
    assert.equal(d.lr, 1e-3);
  });

  test('rejects unknown keys, naming them and the known ones', () => {
    assert.throws(
      () => makeConfig({ epoch: 3 }),
      /invalid config: unknown key 'epoch' \(known: framework, model, recipe, epochs, /,
    );
    assert.throws(
      () => makeConfig({ learningRate: 0.1, batch_size: 2 }),
      /unknown key 'learningRate'.*unknown key 'batch_size'/,
    );
  });

  test('rejects bad values with one message listing every problem', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ framework: 'jax' }, /framework must be one of pytorch, keras \(got "jax"\)/],
      [{ model: 'vgg' }, /model must be one of dense, cnn, cnn-bn, resnet, mobilenet \(got "vgg"\)/],
      [{ epochs: 0 }, /epochs must be an integer >= 1 \(got 0\)/],
      [{ epochs: 2.5 }, /epochs must be an integer >= 1/],
      [{ epochs: '3' }, /epochs must be an integer >= 1 \(got "3"\)/],
      [{ batchSize: 0 }, /batchSize must be an integer >= 1/],
      [{ lr: 0 }, /lr must be a number in \(0, 10\]/],
      [{ lr: -0.1 }, /lr must be a number in \(0, 10\]/],
      [{ lr: Number.NaN }, /lr must be a number in \(0, 10\]/],
      [{ valSplit: 0.95 }, /valSplit must be a number in \[0, 0\.9\]/],
      [{ seed: -1 }, /seed must be an integer >= 0/],
      [{ threads: 0 }, /threads must be an integer >= 1/],
      [{ patience: -1 }, /patience must be an integer >= 0/],
      [{ limit: 1.5 }, /limit must be an integer >= 0/],
      [{ out: 3 }, /out must be a string/],
    ];
    for (const [o, re] of bad) assert.throws(() => makeConfig(o), re, JSON.stringify(o));
    assert.throws(
      () => makeConfig({ epochs: 0, lr: 0, nope: 1 }),
      (e: Error) =>
        /epochs must be/.test(e.message) && /lr must be/.test(e.message) && /unknown key 'nope'/.test(e.message),
    );
  });

  test('accepts the edges of the valid ranges', () => {
    const c = makeConfig({ valSplit: 0, patience: 0, lr: 10, limit: 0, seed: 0, epochs: 1, batchSize: 1 });
    assert.equal(c.valSplit, 0);
    assert.equal(c.lr, 10);
  });
});
