// Test-time augmentation (src/runs/tta.ts) and `fmnist evaluate --tta`: the averaging arithmetic on hand-made
// probabilities, the views on a synthetic image against a per-pixel reference written here, chunking, and one
// tiny real PyTorch run (1 epoch on 512 images) evaluated with and without TTA.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLASS_NAMES, SYSTEM_DATA_DIR, loadFashionMnist } from '../../src/data/index.js';
import { evaluateProbs } from '../../src/runs/metrics.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import type { MetricsJson } from '../../src/runs/files.js';
import {
  TTA_VIEWS,
  averageProbs,
  predictTta,
  predictViews,
  unionOfViews,
  viewsFor,
  type TtaView,
} from '../../src/runs/tta.js';
import { cli } from '../helpers/cli.js';

/** n x 10 probabilities from rows of up to 10 values (the rest 0). */
const probs = (...rows: number[][]) => {
  const p = new Float32Array(rows.length * 10);
  rows.forEach((r, i) => p.set(r, i * 10));
  return p;
};
const argmax = (p: Float32Array, row: number) => {
  let best = 0;
  for (let c = 1; c < 10; c++) if (p[row * 10 + c] > p[row * 10 + best]) best = c;
  return best;
};

describe('averageProbs', () => {
  test('is the exact element-wise mean', () => {
    const a = probs([0.5, 0.25, 0.25], [1]);
    const b = probs([0.25, 0.5, 0.25], [0, 1]);
    const c = probs([0, 0, 1], [0, 0, 1]);
    assert.deepEqual(Array.from(averageProbs([a, b, c])), Array.from(probs([0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3])));
    // two float32 values: their mean rounded once, as (a + b) / 2 in float64 then float32
    const x = probs([0.1, 0.7, 0.2]);
    const y = probs([0.3, 0.3, 0.4]);
    const mean = averageProbs([x, y]);
    for (let i = 0; i < 10; i++) assert.equal(mean[i], Math.fround((x[i] + y[i]) / 2));
  });

  test('one array comes back as a copy; none, or arrays of different lengths, are errors', () => {
    const a = probs([0.2, 0.8]);
    const m = averageProbs([a]);
    assert.deepEqual(m, a);
    assert.notEqual(m, a);
    assert.throws(() => averageProbs([]), /nothing to average/);
    assert.throws(() => averageProbs([a, new Float32Array(20)]), /array 1 has 20 values, array 0 has 10/);
  });

  test('the average can change the argmax, and it is not a majority vote', () => {
    // one member is wrong but unsure, the other right and sure: the mean is right
    const wrong = probs([0.6, 0.4]);
    const right = probs([0.1, 0.9]);
    const mean = averageProbs([wrong, right]);
    assert.equal(argmax(wrong, 0), 0);
    assert.equal(argmax(mean, 0), 1);
    const labels = Uint8Array.of(1);
    assert.equal(evaluateProbs(wrong, labels, CLASS_NAMES).accuracy, 0);
    assert.equal(evaluateProbs(mean, labels, CLASS_NAMES).accuracy, 1);
    // two of three vote for class 1, but the one confident member carries the mean to class 0
    const three = averageProbs([probs([0.9, 0.1]), probs([0.4, 0.6]), probs([0.4, 0.6])]);
    assert.equal(argmax(three, 0), 0);
    assert.ok(Math.abs(three[0] - 1.7 / 3) < 1e-7 && Math.abs(three[1] - 1.3 / 3) < 1e-7);
  });
});

/** 28x28 images whose every pixel differs: pixel (r, c) of image k is (1 + k + r * 28 + c) / 1000. */
function distinctImages(n: number): Float32Array {
  const x = new Float32Array(n * 784);
  for (let k = 0; k < n; k++) for (let i = 0; i < 784; i++) x[k * 784 + i] = (1 + k + i) / 1000;
  return x;
}

/** The view written per pixel: mirror left-right first (when flip), then out(r, c) = src(r + dy, c + dx), 0 outside. */
function reference(image: Float32Array, v: TtaView): Float32Array {
  const out = new Float32Array(784);
  for (let r = 0; r < 28; r++)
    for (let c = 0; c < 28; c++) {
      const sr = r + (v.dy ?? 0);
      const sc = c + (v.dx ?? 0);
      if (sr < 0 || sr > 27 || sc < 0 || sc > 27) continue;
      out[r * 28 + c] = image[sr * 28 + (v.flip ? 27 - sc : sc)];
    }
  return out;
}

/** A stand-in model that records what it is given and answers class (column of the brightest pixel) mod 10. */
function recordingModel() {
  const seen: Float32Array[] = [];
  const sizes: number[] = [];
  const predict = (images: Float32Array, n: number) => {
    sizes.push(n);
    const out = new Float32Array(n * 10);
    for (let k = 0; k < n; k++) {
      const img = images.subarray(k * 784, (k + 1) * 784);
      seen.push(Float32Array.from(img));
      let best = 0;
      for (let i = 1; i < 784; i++) if (img[i] > img[best]) best = i;
      out[k * 10 + ((best % 28) % 10)] = 1;
    }
    return out;
  };
  return { predict, seen, sizes };
}

describe('TTA views', () => {
  test('the default list: identity, the mirror image, and 1-pixel shifts left and right of both', () => {
    assert.deepEqual(
      TTA_VIEWS.map((v) => [v.flip ?? false, v.dx ?? 0, v.dy ?? 0]),
      [
        [false, 0, 0],
        [true, 0, 0],
        [false, 1, 0],
        [false, -1, 0],
        [true, 1, 0],
        [true, -1, 0],
      ],
    );
    assert.equal(new Set(TTA_VIEWS.map((v) => v.name)).size, 6);
  });

  test('a run gets the views its training calls for: flips if it trained on flips, shifts if on shifts', () => {
    const names = (augment?: string[]) => viewsFor(augment && { augment }).map((v) => v.name);
    assert.deepEqual(
      names(['crop', 'flip']),
      TTA_VIEWS.map((v) => v.name),
    );
    assert.deepEqual(
      names(['crop', 'flip', 'erase']),
      TTA_VIEWS.map((v) => v.name),
    );
    assert.deepEqual(names(['flip']), ['identity', 'flipped']);
    assert.deepEqual(names(['crop']), ['identity', 'left 1px', 'right 1px']);
    assert.deepEqual(names([]), ['identity']);
    assert.deepEqual(names(undefined), ['identity'], 'a run from before recipes trained on neither');
    assert.deepEqual(
      unionOfViews([viewsFor({ augment: ['flip'] }), viewsFor({ augment: ['crop'] })]).map((v) => v.name),
      ['identity', 'flipped', 'left 1px', 'right 1px'],
    );
  });

  test('each view is the flip/shift it names, pixel for pixel, on a synthetic image', async () => {
    const x = distinctImages(2);
    const m = recordingModel();
    await predictViews(m.predict, x, 2);
    assert.equal(m.seen.length, 2 * TTA_VIEWS.length);
    TTA_VIEWS.forEach((v, i) => {
      for (let k = 0; k < 2; k++) {
        const want = reference(x.subarray(k * 784, (k + 1) * 784), v);
        assert.deepEqual(m.seen[i * 2 + k], want, `view '${v.name}', image ${k}`);
      }
    });
    // and by hand, for a few pixels of image 0 (pixel (r, c) = (1 + 28 r + c) / 1000)
    const [id, flip, left, right, flipLeft] = m.seen.filter((_, j) => j % 2 === 0);
    assert.equal(id[3 * 28], Math.fround(85 / 1000));
    assert.equal(flip[3 * 28], Math.fround(112 / 1000), 'flip: column 0 shows column 27');
    assert.equal(left[3 * 28 + 26], Math.fround(112 / 1000), 'left 1px: column 26 shows column 27');
    assert.equal(left[3 * 28 + 27], 0, 'left 1px: the last column is background');
    assert.equal(right[3 * 28], 0, 'right 1px: the first column is background');
    assert.equal(right[3 * 28 + 1], Math.fround(85 / 1000));
    assert.equal(flipLeft[3 * 28], Math.fround(111 / 1000), 'flipped, then left: column 0 shows column 26');
  });

  test('predictTta is the equal-weight mean over the views', async () => {
    // one lit pixel at column 5: the model's class is the column it sees the pixel in, mod 10
    const x = new Float32Array(784);
    x[10 * 28 + 5] = 1;
    const p = await predictTta(recordingModel().predict, x, 1);
    // identity 5, flipped 22, left 4, right 6, flipped left 21, flipped right 23
    const sixth = Math.fround(1 / 6);
    assert.deepEqual(Array.from(p), [0, sixth, sixth, sixth, sixth, sixth, sixth, 0, 0, 0]);
  });

  test('images go through in chunks, with the same result', async () => {
    const x = distinctImages(7);
    for (let k = 0; k < 7; k++) x[k * 784 + 100 + 3 * k] = 2; // a different brightest pixel per image
    const whole = recordingModel();
    const chunked = recordingModel();
    const a = await predictViews(whole.predict, x, 7);
    const b = await predictViews(chunked.predict, x, 7, TTA_VIEWS, 3);
    assert.deepEqual(b, a);
    assert.deepEqual(whole.sizes, new Array(6).fill(7));
    assert.deepEqual(chunked.sizes, [...new Array(12).fill(3), ...new Array(6).fill(1)]);
    await assert.rejects(
      predictViews(() => new Float32Array(5), x, 7),
      /predict gave 5 values for 7 images/,
    );
  });
});

const skip = existsSync(join(SYSTEM_DATA_DIR, 't10k-images-idx3-ubyte.gz')) ? false : `no data in ${SYSTEM_DATA_DIR}`;

describe('fmnist evaluate --tta (a tiny PyTorch dense run, 500 test images)', { skip }, () => {
  let tmp = '';
  let dir = '';
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-tta-'));
    dir = join(tmp, 'pytorch-dense');
    const r = await cli([
      ...['train', '--framework', 'pytorch', '--model', 'dense', '--epochs', '1', '--limit', '512'],
      ...['--augment', 'crop,flip'], // trained on flips and shifts: all six views apply
      ...['--test-limit', '500', '--val-split', '0.2', '--seed', '1', '--threads', '2', '--out', dir],
      ...['--data-dir', SYSTEM_DATA_DIR],
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  const readJson = <T>(p: string) => JSON.parse(readFileSync(p, 'utf8')) as T;
  const evaluate = (...extra: string[]) =>
    cli(['evaluate', dir, '--data-dir', SYSTEM_DATA_DIR, '--test-limit', '500', ...extra]);

  test('without --tta: unchanged, and nothing is written', async () => {
    const r = await evaluate('--json');
    assert.equal(r.exitCode, 0, r.stderr);
    const ev = JSON.parse(r.stdout);
    assert.equal(ev.framework, 'pytorch');
    assert.equal(
      ev.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      500,
    );
    // the run folder's own test results are on the same 500 images
    assert.equal(ev.accuracy, readJson<MetricsJson>(join(dir, 'metrics.json')).testAccuracy);
    assert.ok(!existsSync(join(dir, 'metrics-tta.json')));
  });

  test('--json prints {plain, tta} and writes metrics-tta.json in metrics.json’s shape', async () => {
    const r = await evaluate('--tta', '--json');
    assert.equal(r.exitCode, 0, r.stderr);
    const { plain, tta } = JSON.parse(r.stdout);
    const metrics = readJson<MetricsJson>(join(dir, 'metrics.json'));
    assert.equal(plain.accuracy, metrics.testAccuracy);
    assert.equal(plain.framework, 'pytorch');
    assert.equal(tta.views.length, TTA_VIEWS.length);

    const m = readJson<MetricsJson>(join(dir, 'metrics-tta.json'));
    assert.deepEqual(Object.keys(m), [...Object.keys(metrics), 'tta']);
    assert.equal(
      m.confusionMatrix.flat().reduce((a, b) => a + b, 0),
      500,
    );
    assert.equal(m.perClass.length, 10);
    assert.equal(m.reliability.length, metrics.reliability.length);
    assert.deepEqual(m.tta?.views, TTA_VIEWS);
    // the training side is the run's; the test side is the TTA result
    for (const k of ['framework', 'model', 'params', 'trainSeconds', 'epochs', 'bestEpoch', 'valAccuracy'] as const)
      assert.equal(m[k], metrics[k], k);
    assert.equal(m.testAccuracy, tta.accuracy);
    assert.equal(m.testLoss, tta.loss);
    assert.deepEqual(m.confusionMatrix, tta.confusionMatrix);

    // and it is the TTA of the run's model, computed here independently of the command
    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, quiet: true });
    const p = await loadPredictor(dir);
    try {
      const probs = await predictTta((x, n) => p.predict(x, n), fm.test.images.subarray(0, 500 * 784), 500);
      const ev = evaluateProbs(probs, fm.test.labels.subarray(0, 500), CLASS_NAMES);
      assert.deepEqual(ev.confusionMatrix, m.confusionMatrix);
      assert.ok(Math.abs(ev.loss - m.testLoss) < 1e-6, `${ev.loss} vs ${m.testLoss}`);
    } finally {
      p.dispose();
    }
  });

  test('a run trained without augmentation has only the identity view: TTA equals plain, and it says so', async () => {
    const seedRun = join(tmp, 'pytorch-dense-seed');
    const t = await cli([
      ...['train', '--framework', 'pytorch', '--model', 'dense', '--epochs', '1', '--limit', '512'],
      ...['--test-limit', '500', '--val-split', '0.2', '--seed', '1', '--threads', '2', '--out', seedRun],
      ...['--data-dir', SYSTEM_DATA_DIR],
    ]);
    assert.equal(t.exitCode, 0, t.stderr);
    const r = await cli(['evaluate', seedRun, '--tta', '--data-dir', SYSTEM_DATA_DIR, '--test-limit', '500']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /TTA: mean of 1 view \(identity\)/);
    assert.match(r.stdout, /trained without flips or shifts/);
    const m = readJson<MetricsJson>(join(seedRun, 'metrics-tta.json'));
    assert.equal(m.testAccuracy, readJson<MetricsJson>(join(seedRun, 'metrics.json')).testAccuracy);
  });

  test('the text output puts plain and TTA side by side', async () => {
    const r = await evaluate('--tta');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /on 500 test images; TTA: mean of 6 views \(identity, flipped, /);
    assert.match(r.stdout, /^\s+plain\s+TTA\s+change$/m);
    assert.match(r.stdout, /^accuracy\s+0\.\d{4}\s+0\.\d{4}\s+[+-]\d\.\d{4}$/m);
    assert.match(r.stdout, /^ECE\s/m);
    assert.match(r.stdout, /^class\s+precision\s+TTA\s+recall\s+TTA\s+f1\s+TTA\s+support$/m);
    assert.match(r.stdout, /^confusion matrix with TTA/m);
    assert.match(r.stdout, /wrote .*metrics-tta\.json$/);
  });
});
