import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchIterator, gatherBatch, mulberry32, stratifiedSplit, subset, type Split } from '../../src/data/index.js';

/** Unbalanced labels: class c has 50 + 13*c examples, interleaved. */
function unbalancedLabels(): Uint8Array {
  const labels: number[] = [];
  for (let c = 0; c < 10; c++) for (let k = 0; k < 50 + 13 * c; k++) labels.push(c);
  const random = mulberry32(99);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [labels[i], labels[j]] = [labels[j], labels[i]];
  }
  return Uint8Array.from(labels);
}

function countByClass(labels: Uint8Array, indices: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const i of indices) counts[labels[i]]++;
  return counts;
}

describe('mulberry32', () => {
  test('is deterministic per seed and stays in [0, 1)', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const c = mulberry32(2);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.notDeepEqual(
      xs.slice(0, 10),
      Array.from({ length: 10 }, () => c()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });
});

describe('stratifiedSplit', () => {
  const labels = unbalancedLabels();

  test('keeps each class within one example of its share, and the total at round(n*f)', () => {
    for (const fraction of [0.1, 0.25, 0.37]) {
      const { train, val } = stratifiedSplit(labels, fraction, 7);
      assert.equal(val.length, Math.round(labels.length * fraction));
      const all = countByClass(labels, new Int32Array(labels.keys()));
      const inVal = countByClass(labels, val);
      for (let c = 0; c < 10; c++) {
        assert.ok(Math.abs(inVal[c] - all[c] * fraction) <= 1, `class ${c}: ${inVal[c]} vs ${all[c] * fraction}`);
      }
      assert.equal(train.length + val.length, labels.length);
    }
  });

  test('is disjoint, covers every index once, and comes back sorted', () => {
    const { train, val } = stratifiedSplit(labels, 0.1, 3);
    const seen = new Uint8Array(labels.length);
    for (const i of [...train, ...val]) seen[i]++;
    assert.ok(seen.every((n) => n === 1));
    for (const part of [train, val]) for (let k = 1; k < part.length; k++) assert.ok(part[k - 1] < part[k]);
  });

  test('is deterministic for a seed and differs for another seed', () => {
    const a = stratifiedSplit(labels, 0.1, 42);
    const b = stratifiedSplit(labels, 0.1, 42);
    const c = stratifiedSplit(labels, 0.1, 43);
    assert.deepEqual(a.val, b.val);
    assert.deepEqual(a.train, b.train);
    assert.notDeepEqual(a.val, c.val);
  });

  test('a zero fraction puts everything in train; bad fractions throw', () => {
    const { train, val } = stratifiedSplit(labels, 0, 1);
    assert.equal(val.length, 0);
    assert.equal(train.length, labels.length);
    assert.throws(() => stratifiedSplit(labels, 1, 1), RangeError);
    assert.throws(() => stratifiedSplit(labels, -0.1, 1), RangeError);
  });
});

describe('subset and gatherBatch', () => {
  const split: Split = {
    images: Float32Array.from({ length: 5 * 784 }, (_, k) => Math.floor(k / 784) / 10),
    labels: Uint8Array.from([4, 3, 2, 1, 0]),
    count: 5,
  };

  test('subset copies the chosen examples in order', () => {
    const s = subset(split, Int32Array.from([3, 0]));
    assert.equal(s.count, 2);
    assert.deepEqual([...s.labels], [1, 4]);
    assert.equal(s.images.length, 2 * 784);
    assert.equal(s.images[0], Math.fround(0.3));
    assert.equal(s.images[784], 0);
    s.images[0] = 9;
    assert.equal(split.images[3 * 784], Math.fround(0.3));
    assert.throws(() => subset(split, Int32Array.from([5])), RangeError);
  });

  test('gatherBatch fills reusable buffers', () => {
    const images = new Float32Array(3 * 784);
    const labels = new Uint8Array(3);
    gatherBatch(split, Int32Array.from([2, 4]), images, labels);
    assert.deepEqual([...labels.subarray(0, 2)], [2, 0]);
    assert.equal(images[783], Math.fround(0.2));
  });
});

describe('BatchIterator', () => {
  test('sees every example exactly once per epoch, last batch smaller', () => {
    const indices = Int32Array.from({ length: 103 }, (_, i) => i * 2);
    const it = new BatchIterator(indices, 10, 5);
    assert.equal(it.numBatches, 11);
    for (let e = 0; e < 3; e++) {
      const sizes: number[] = [];
      const seen: number[] = [];
      for (const batch of it.epoch()) {
        sizes.push(batch.length);
        seen.push(...batch);
      }
      assert.deepEqual(sizes, [...new Array(10).fill(10), 3]);
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        [...indices],
      );
    }
    assert.equal(it.epochs, 3);
    assert.deepEqual([...indices.subarray(0, 3)], [0, 2, 4], "the caller's array is not shuffled");
  });

  test('reuses one buffer across epochs and reshuffles it', () => {
    const it = new BatchIterator(1000, 64, 11);
    const first = [...it.epoch()];
    const firstOrder = first.flatMap((b) => [...b]);
    const buffer = first[0].buffer;
    const second = [...it.epoch()];
    assert.ok(second.every((b) => b.buffer === buffer));
    assert.ok(first.every((b) => b.buffer === buffer));
    const secondOrder = second.flatMap((b) => [...b]);
    assert.notDeepEqual(secondOrder, firstOrder);
    assert.notDeepEqual(
      firstOrder,
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  test('is deterministic for a seed', () => {
    const order = (seed: number) => {
      const it = new BatchIterator(200, 32, seed);
      return [...it.epoch(), ...it.epoch()].flatMap((b) => [...b]);
    };
    assert.deepEqual(order(3), order(3));
    assert.notDeepEqual(order(3), order(4));
  });

  test('rejects a bad batch size', () => {
    assert.throws(() => new BatchIterator(10, 0, 1), RangeError);
    assert.throws(() => new BatchIterator(10, 2.5, 1), RangeError);
  });
});
