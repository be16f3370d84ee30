// `fmnist convert`, for every architecture in the registry: a tiny real run in each framework (the real loop, one
// epoch), converted to the other framework, predicts the same test probabilities (1e-4) with the same argmax; the
// converted folder is a complete run (loadPredictor, run.json's provenance, the source's history); a converted
// PyTorch run loads in Python strictly and a converted Keras run in stock tfjs (cpu); BatchNorm's epsilon is
// folded into running_var one way and recorded in model.json the other; Keras → PyTorch → Keras gives back the
// original weights. Then the CLI's bad inputs: one line, exit 1, no folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as torch from '../../src/torch/index.js';
import { MODELS, type ModelSpec } from '../../src/models/index.js';
import { makeConfig } from '../../src/runs/config.js';
import { runTraining } from '../../src/cli/commands/train.js';
import { readRun, readTestProbs, writeChecksums, type RunInfo } from '../../src/runs/files.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import { convertRun, loadAsTorch } from '../../src/runs/convert.js';
import { loadKerasModel } from '../../src/engines/convert.js';
import { loadFashionMnist, SYSTEM_DATA_DIR, type Split } from '../../src/data/index.js';
import { assertClose, pythonTorchMissing } from '../torch/helpers.js';
import { pythonReload, stockTfjsReload } from '../helpers/reload.js';
import { cli } from '../helpers/cli.js';

const hasData = existsSync(join(SYSTEM_DATA_DIR, 'train-images-idx3-ubyte.gz'));
const TEST = 500;
/** Python and stock tfjs (pure JS on the cpu backend: slow for the conv nets) check a slice of those. */
const SLICE = 32;
const TOL = { rtol: 0, atol: 1e-4 };

const argmax = (p: Float32Array) =>
  Array.from({ length: p.length / 10 }, (_, i) => {
    let best = 0;
    for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + best]) best = c;
    return best;
  });
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const hasBatchNorm = (spec: ModelSpec) => spec.keras(tfl).layers.some((l) => l.getClassName() === 'BatchNormalization');

/** The Keras model's weights by layer, as plain arrays. */
async function kerasWeights(dir: string) {
  const m = await loadKerasModel(dir);
  try {
    return m.layers.map((l) => ({
      cls: l.getClassName(),
      eps: l.getConfig().epsilon as number | undefined,
      weights: l.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync() as Float32Array })),
    }));
  } finally {
    m.dispose();
  }
}

describe('fmnist convert, every architecture', { skip: hasData ? false : `no data in ${SYSTEM_DATA_DIR}` }, () => {
  let root = '';
  let xfile = '';
  let testSplit: Split;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'fmnist-convert-'));
    testSplit = (await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, verify: false })).test;
    xfile = join(root, 'x.bin');
    writeFileSync(xfile, testSplit.images.subarray(0, SLICE * 784));
  });
  const convert = (src: string, to: string, out: string) => convertRun(src, to, out, { test: testSplit });
  const sliceOf = (p: Float32Array) => p.subarray(0, SLICE * 10);
  after(() => rmSync(root, { recursive: true, force: true }));

  /** One epoch of 256 images in batches of 16 (16 steps), so BatchNorm's running statistics have moved. */
  const trainRun = (framework: 'pytorch' | 'keras', spec: ModelSpec) =>
    runTraining(
      makeConfig({
        framework,
        model: spec.id,
        epochs: 1,
        batchSize: 16,
        limit: 256,
        valSplit: 0, // no validation pass: the history's validation fields are null
        testLimit: TEST,
        threads: 2,
        seed: 3,
        dataDir: SYSTEM_DATA_DIR,
        out: join(root, `${framework}-${spec.id}`),
      }),
      () => {},
    );

  /** The checks every converted folder passes, against its source. */
  async function checkConverted(src: string, out: string, r: Awaited<ReturnType<typeof convertRun>>) {
    const before = readRun(src);
    const after = readRun(out);
    const p0 = readTestProbs(src)!;
    const p1 = readTestProbs(out)!;
    assert.equal(p1.length, TEST * 10);
    assertClose(p1, p0, 'converted test probabilities against the source run', TOL);
    assert.ok(r.maxDiff <= 1e-4, `max |Δp| ${r.maxDiff}`);
    assert.deepEqual(argmax(p1), argmax(p0), 'the same class for every test image');
    assert.equal(r.accuracy, r.sourceAccuracy);
    assert.equal(after.metrics!.testAccuracy, before.metrics!.testAccuracy);

    const info: RunInfo = after.info;
    assert.equal(info.model, before.info.model);
    assert.equal(info.params, before.info.params);
    assert.deepEqual(info.config, before.info.config);
    const weights = before.info.framework === 'pytorch' ? join(src, 'model.pt') : join(src, 'weights.bin');
    assert.equal(info.provenance?.kind, 'convert');
    assert.equal(info.provenance?.source, src);
    assert.equal(info.provenance?.framework, before.info.framework);
    assert.equal(info.provenance?.sha256, sha256(weights));
    assert.deepEqual(after.history, before.history, "the source's training history");

    const p = await loadPredictor(out);
    try {
      assertClose(await p.predict(readTestProbsImages(), TEST), p1, 'loadPredictor on the converted folder', {
        atol: 1e-6,
      });
    } finally {
      p.dispose();
    }
  }
  const readTestProbsImages = () => testSplit.images.subarray(0, TEST * 784);

  for (const spec of MODELS) {
    test(`${spec.id}: Keras → PyTorch (Python strict load), and back to Keras gives the original weights`, async () => {
      await trainRun('keras', spec);
      const src = join(root, `keras-${spec.id}`);
      const out = join(root, `keras-${spec.id}-to-pytorch`);
      const r = await convert(src, 'pytorch', out);
      assert.equal(r.info.framework, 'pytorch');
      await checkConverted(src, out, r);
      assert.ok(existsSync(join(out, 'model.py')));

      // BatchNorm: eps folded into the variance exactly, num_batches_tracked 0
      const keras = await kerasWeights(src);
      const sd = torch.loadStateDict(readFileSync(join(out, 'model.pt')));
      const bns = keras.filter((l) => l.cls === 'BatchNormalization');
      const vars = [...sd].filter(([k]) => k.endsWith('running_var')).map(([, v]) => v.toFloat32());
      assert.equal(vars.length, bns.length);
      bns.forEach((l, i) => {
        assert.equal(l.eps, 1e-5, "our Keras BatchNorm has PyTorch's epsilon");
        const moving = l.weights[3].data;
        assert.ok(
          moving.some((v) => Math.abs(v - 1) > 0.02),
          'the running variance has moved from its initial 1',
        );
        assertClose(vars[i], moving, `running_var ${i}`, { atol: 1e-7, rtol: 1e-6 });
      });
      for (const [k, v] of sd) if (k.endsWith('num_batches_tracked')) assert.equal(v.item(), 0);
      sd.forEach((v) => v.dispose());

      if (!pythonTorchMissing()) {
        const py = pythonReload(out, xfile);
        assertClose(py.probs, sliceOf(readTestProbs(src)!), `${spec.id} converted model.pt in Python`, TOL);
      }

      // round trip: the same weights (the variance plus epsilon where the epsilon moved), the same probabilities
      const back = join(root, `keras-${spec.id}-round-trip`);
      const r2 = await convert(out, 'keras', back);
      assert.ok(r2.maxDiff <= 1e-4);
      const again = await kerasWeights(back);
      assert.deepEqual(
        again.map((l) => l.cls),
        keras.map((l) => l.cls),
      );
      keras.forEach((l, i) => {
        const m = again[i];
        l.weights.forEach((w, j) => {
          assert.deepEqual(m.weights[j].shape, w.shape);
          if (l.cls === 'BatchNormalization' && j === 3)
            assertClose(
              Array.from(m.weights[j].data, (v) => v + m.eps!),
              Array.from(w.data, (v) => v + l.eps!),
              `round trip: moving_variance + epsilon of layer ${i}`,
              { atol: 1e-7, rtol: 1e-6 },
            );
          else assert.deepEqual(m.weights[j].data, w.data, `round trip: weight ${j} of layer ${i} (${l.cls})`);
        });
      });
      assertClose(readTestProbs(back)!, readTestProbs(src)!, 'round-trip probabilities', { atol: 1e-6 });
    });

    test(`${spec.id}: PyTorch → Keras (stock tfjs, epsilon in model.json)`, async () => {
      await trainRun('pytorch', spec);
      const src = join(root, `pytorch-${spec.id}`);
      const out = join(root, `pytorch-${spec.id}-to-keras`);
      const r = await convert(src, 'keras', out);
      assert.equal(r.info.framework, 'keras');
      await checkConverted(src, out, r);

      const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
      const bn = (json.modelTopology.config.layers as { class_name: string; config: { epsilon: number } }[]).filter(
        (l) => l.class_name === 'BatchNormalization',
      );
      assert.equal(bn.length > 0, hasBatchNorm(spec));
      for (const l of bn) assert.equal(l.config.epsilon, 1e-5, "PyTorch's epsilon recorded in model.json");

      const stock = await stockTfjsReload(out, xfile);
      assert.equal(stock.backend, 'cpu');
      assertClose(stock.probs, sliceOf(readTestProbs(src)!), `${spec.id} converted model.json in stock tfjs`, TOL);

      // loadAsTorch: the Keras folder as a PyTorch module computes the source's probabilities
      const { module, info } = await loadAsTorch(out);
      try {
        assert.equal(info.framework, 'keras');
        assert.equal(module.training, false, 'eval mode');
        const p = torch.noGrad(() =>
          torch.tidy(() =>
            module
              .call(torch.fromTypedArray(readTestProbsImages(), [TEST, 1, 28, 28]))
              .softmax(1)
              .toFloat32(),
          ),
        );
        assertClose(p, readTestProbs(src)!, 'loadAsTorch of the converted Keras folder', TOL);
      } finally {
        module.dispose();
      }
    });
  }

  test("a Keras run with tfjs's default BatchNorm epsilon (1e-3, older runs) converts with it folded into running_var", async () => {
    const spec = MODELS.find((m) => m.id === 'cnn-bn')!;
    if (!existsSync(join(root, 'keras-cnn-bn', 'model.json'))) await trainRun('keras', spec);
    const dir = join(root, 'keras-cnn-bn-eps-1e-3');
    cpSync(join(root, 'keras-cnn-bn'), dir, { recursive: true });
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    let edited = 0;
    for (const l of json.modelTopology.config.layers as { class_name: string; config: { epsilon?: number } }[])
      if (l.class_name === 'BatchNormalization') {
        l.config.epsilon = 1e-3;
        edited++;
      }
    assert.ok(edited > 0);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    writeChecksums(dir);

    const out = join(root, 'keras-cnn-bn-eps-1e-3-to-pytorch');
    const r = await convert(dir, 'pytorch', out);
    assert.ok(r.maxDiff <= 1e-4, `the converted model computes the 1e-3 model's probabilities (max diff ${r.maxDiff})`);
    const bns = (await kerasWeights(dir)).filter((l) => l.cls === 'BatchNormalization');
    const sd = torch.loadStateDict(readFileSync(join(out, 'model.pt')));
    const vars = [...sd].filter(([k]) => k.endsWith('running_var')).map(([, v]) => v.toFloat32());
    bns.forEach((l, i) => {
      assert.equal(l.eps, 1e-3);
      assertClose(
        vars[i],
        Array.from(l.weights[3].data, (v) => v + 1e-3 - 1e-5),
        `running_var ${i}`,
        {
          atol: 1e-7,
          rtol: 1e-6,
        },
      );
    });
    sd.forEach((v) => v.dispose());
  });

  describe('bad input: one line, exit 1, no folder', () => {
    let src = '';
    before(() => {
      src = join(root, 'pytorch-dense');
      if (!existsSync(join(src, 'model.pt'))) throw new Error('the dense runs above did not finish');
    });
    const copyWith = (name: string, edit: (info: RunInfo) => void, drop?: string) => {
      const dir = join(root, name);
      cpSync(src, dir, { recursive: true });
      const info = readRun(dir).info;
      edit(info);
      writeFileSync(join(dir, 'run.json'), JSON.stringify(info));
      if (drop) rmSync(join(dir, drop));
      writeChecksums(dir); // a folder written so, not one damaged since (test/runs/corrupt.test.ts)
      return dir;
    };
    const refuses = async (args: string[], message: RegExp) => {
      const parent = join(root, 'outs');
      mkdirSync(parent, { recursive: true });
      const out = join(parent, 'converted');
      const r = await cli(['convert', ...args, '--out', out, '--data-dir', SYSTEM_DATA_DIR]);
      assert.equal(r.exitCode, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(existsSync(out), false, 'no --out folder');
      assert.deepEqual(readdirSync(parent), [], 'no temporary folder left');
    };

    test('a missing folder', () => refuses([join(root, 'nope'), '--to', 'keras'], /nope: run folder not found/));
    test('a folder without weights', () =>
      refuses([copyWith('no-weights', () => {}, 'model.pt'), '--to', 'keras'], /model\.pt: weights file not found/));
    test('an ensemble folder', () =>
      refuses(
        [
          copyWith('an-ensemble', (i) => Object.assign(i, { framework: 'ensemble', model: 'ensemble' })),
          '--to',
          'keras',
        ],
        /is an ensemble/,
      ));
    test('--to the same framework', () => refuses([src, '--to', 'pytorch'], /already a PyTorch run/));
    test('an unknown framework', () =>
      refuses([src, '--to', 'onnx'], /--to onnx: unknown framework \(known: pytorch, keras\)/));
    test('an unknown architecture', () =>
      refuses(
        [copyWith('unknown-model', (i) => (i.model = 'transformer')), '--to', 'keras'],
        /unknown model 'transformer'/,
      ));
    test('an --out that is not empty', async () => {
      const out = join(root, 'full');
      mkdirSync(out);
      writeFileSync(join(out, 'keep.txt'), 'mine');
      const r = await cli(['convert', src, '--to', 'keras', '--out', out, '--data-dir', SYSTEM_DATA_DIR]);
      assert.equal(r.exitCode, 1);
      assert.match(r.stderr, /already exists and is not empty/);
      assert.deepEqual(readdirSync(out), ['keep.txt']);
    });
    test('the CLI prints both accuracies and the largest difference', async () => {
      const out = join(root, 'cli-out');
      const r = await cli(['convert', src, '--to', 'keras', '--out', out, '--data-dir', SYSTEM_DATA_DIR]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /PyTorch dense/);
      assert.match(r.stdout, /Keras dense/);
      assert.match(r.stdout, /max \|Δp\| \d\.\d\de[-+]\d+/);
      assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'weights.bin')));
    });
  });
});
