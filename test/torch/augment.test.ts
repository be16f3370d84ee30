// Batch augmentation (src/data/augment.ts): the tensor-op transform against a per-pixel reference written here,
// the statistics of the random draws, determinism for a seed, and that the training loop never augments the
// validation or test images.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyViews, emptyViews, viewBatch, Augmenter, RandomStream, type Views } from '../../src/torch/augment.js';

/** The transform, pixel by pixel: shift (zero fill), flip first, then erase. */
function reference(images: Float32Array, n: number, v: Views): Float32Array {
  const out = new Float32Array(n * 784);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < 28; r++)
      for (let c = 0; c < 28; c++) {
        const sr = r + v.dy[i];
        const sc0 = c + v.dx[i];
        const inside = sr >= 0 && sr < 28 && sc0 >= 0 && sc0 < 28;
        const sc = v.flip[i] ? 27 - sc0 : sc0;
        let x = inside ? images[i * 784 + sr * 28 + sc] : 0;
        const [y0, x0, y1, x1] = v.erase.subarray(4 * i, 4 * i + 4);
        if (r >= y0 && r < y1 && c >= x0 && c < x1) x = 0;
        out[i * 784 + r * 28 + c] = x;
      }
  return out;
}

function randomImages(n: number, seed: number): Float32Array {
  const rng = new RandomStream(seed);
  return Float32Array.from({ length: n * 784 }, () => rng.next());
}

describe('applyViews', () => {
  test('equals the per-pixel reference for random shifts, flips and rectangles', () => {
    const n = 48;
    const x = randomImages(n, 7);
    const rng = new RandomStream(11);
    const v = emptyViews(n);
    for (let i = 0; i < n; i++) {
      v.dx[i] = rng.int(-3, 3);
      v.dy[i] = rng.int(-3, 3);
      v.flip[i] = rng.int(0, 1);
      if (i % 3 === 0) {
        const y0 = rng.int(0, 20);
        const x0 = rng.int(0, 20);
        v.erase.set([y0, x0, y0 + rng.int(1, 8), x0 + rng.int(1, 8)], 4 * i);
      }
    }
    const out = new Float32Array(n * 784);
    applyViews(x, n, v, out);
    assert.deepEqual(out, reference(x, n, v));
    // in place gives the same
    const y = x.slice();
    applyViews(y, n, v);
    assert.deepEqual(y, out);
  });

  test('the identity view changes nothing; a flip twice is the identity', () => {
    const x = randomImages(5, 3);
    assert.deepEqual(viewBatch(x, 5, {}), x);
    assert.deepEqual(viewBatch(viewBatch(x, 5, { flip: true }), 5, { flip: true }), x);
    assert.notDeepEqual(viewBatch(x, 5, { flip: true }), x);
  });

  test('a shift moves an object that stays inside the image without changing its mass', () => {
    const x = new Float32Array(784);
    for (let r = 10; r < 15; r++) for (let c = 8; c < 12; c++) x[r * 28 + c] = (r + c) / 40;
    const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    const y = viewBatch(x, 1, { dx: 2, dy: -3 });
    assert.ok(Math.abs(sum(y) - sum(x)) < 1e-5);
    // output (r, c) reads input (r + dy, c + dx)
    assert.equal(y[13 * 28 + 6], x[10 * 28 + 8]);
    assert.throws(() => viewBatch(x, 1, { dx: 28 }), /shift 28 must be < 28 pixels/);
  });
});

describe('Augmenter', () => {
  const N = 6000;

  test('draws match their distributions: shifts uniform in [-pad, pad], flips half, erasing at eraseP', () => {
    const a = new Augmenter({ augment: ['crop', 'flip', 'erase'], cropPad: 2, eraseP: 0.3 }, 5);
    const v = a.draw(N);
    const counts = new Map<number, number>();
    for (const d of [...v.dx, ...v.dy]) counts.set(d, (counts.get(d) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), [-1, -2, 0, 1, 2]);
    for (const [d, k] of counts) assert.ok(Math.abs(k / (2 * N) - 0.2) < 0.02, `shift ${d}: ${k / (2 * N)}`);
    const flips = v.flip.reduce((s, f) => s + f, 0) / N;
    assert.ok(Math.abs(flips - 0.5) < 0.03, `flip rate ${flips}`);
    let erased = 0;
    for (let i = 0; i < N; i++) {
      const [y0, x0, y1, x1] = v.erase.subarray(4 * i, 4 * i + 4);
      if (y1 <= y0) continue;
      erased++;
      const area = (y1 - y0) * (x1 - x0);
      assert.ok(y0 >= 0 && x0 >= 0 && y1 <= 28 && x1 <= 28, 'inside the image');
      assert.ok(area >= 0.015 * 784 && area <= 0.42 * 784, `area ${area}`);
      const aspect = (y1 - y0) / (x1 - x0);
      assert.ok(aspect > 0.2 && aspect < 5, `aspect ${aspect}`);
    }
    assert.ok(Math.abs(erased / N - 0.3) < 0.03, `erase rate ${erased / N}`);
  });

  test('augmented batches: pixels stay in [0, 1], the mean falls a little, nothing is NaN', () => {
    const x = new Float32Array(512 * 784).fill(1);
    new Augmenter({ augment: ['crop', 'flip', 'erase'], cropPad: 2, eraseP: 0.5 }, 1).apply(x, 512);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const p of x) {
      min = Math.min(min, p);
      max = Math.max(max, p);
      sum += p;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    const mean = sum / x.length;
    // shifts of up to 2 px blank ~2*(E|d|)/28 of rows and columns; erasing removes ~0.5 * 21% on average
    assert.ok(mean > 0.75 && mean < 0.95, `mean ${mean}`);
  });

  test('the same seed gives the same batches; another seed, other batches; none leaves them alone', () => {
    const opts = { augment: ['crop', 'flip', 'erase'] as const, cropPad: 2, eraseP: 0.5 };
    const run = (seed: number) => {
      const a = new Augmenter(opts, seed);
      const out: Float32Array[] = [];
      for (let b = 0; b < 3; b++) {
        const x = randomImages(16, b);
        a.apply(x, 16);
        out.push(x);
      }
      return out;
    };
    assert.deepEqual(run(3), run(3));
    assert.notDeepEqual(run(3), run(4));
    const x = randomImages(16, 9);
    const y = x.slice();
    new Augmenter({ augment: [], cropPad: 2, eraseP: 0.5 }, 1).apply(y, 16);
    assert.deepEqual(y, x);
    assert.throws(
      () => new Augmenter({ augment: ['crop'], cropPad: 9, eraseP: 0 }, 1),
      /cropPad must be an integer in \[0, 8\]/,
    );
  });
});

describe('the training loop', () => {
  test('augments training batches only: validation and test images are untouched, test-probs are of the raw images', async () => {
    const { makeConfig } = await import('../../src/runs/config.js');
    const { prepareData } = await import('../../src/train/prepare.js');
    const { train } = await import('../../src/train/loop.js');
    const { loadPredictor } = await import('../../src/runs/predictor.js');
    const { readTestProbs } = await import('../../src/runs/files.js');
    const out = mkdtempSync(join(tmpdir(), 'fmnist-augment-'));
    try {
      const cfg = makeConfig({
        framework: 'pytorch',
        model: 'dense',
        epochs: 1,
        limit: 640,
        testLimit: 300,
        valSplit: 0.2,
        seed: 1,
        augment: 'crop,flip,erase',
        eraseP: 0.5,
        threads: 1,
        out,
      });
      const data = await prepareData(cfg);
      const val = data.val!.images.slice();
      const testImages = data.test.images.slice();
      const trainImages = data.train.images.slice();
      let changed = 0;
      let batches = 0;
      await train(cfg, data, () => {}, {
        augment: (x, _y, n) => {
          batches++;
          // the loop has augmented this batch already: it is no longer a copy of any training image's pixels
          const first = x.subarray(0, 784);
          let same = false;
          for (let i = 0; i < data.train.count && !same; i++)
            same = first.every((p, k) => p === data.train.images[i * 784 + k]);
          if (!same) changed++;
          assert.ok(n <= cfg.batchSize);
        },
      });
      assert.deepEqual(data.val!.images, val);
      assert.deepEqual(data.test.images, testImages);
      assert.deepEqual(data.train.images, trainImages, 'the dataset itself is never changed');
      assert.equal(batches, Math.ceil(data.train.count / cfg.batchSize));
      assert.ok(changed >= batches - 2, `${changed} of ${batches} batches were augmented`);
      const p = await loadPredictor(out);
      try {
        const probs = await p.predict(data.test.images, data.test.count);
        const saved = readTestProbs(out)!;
        for (let i = 0; i < probs.length; i++) assert.ok(Math.abs(probs[i] - saved[i]) < 1e-6);
      } finally {
        p.dispose();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
