// Where libtorch's ops and tfjs's kernels disagree on what an answer is (NaN, empty windows, tfjs's own shortcuts),
// the torch backend gives tfjs's answer: each case against the cpu backend. tfjs-core's specs (test/tfjs-core/) found
// these first.
import { describe, test } from 'node:test';
import { compareBackends, rand, tf } from './helpers.js';

/** Seeded values in [-3, 3), rounded to halves (ties), with NaN, -Infinity and Infinity sprinkled in. */
function special(shape: number[], seed: number, nanRate = 0.15): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = rand(n, seed, -3, 3).map((x) => Math.round(x * 2) / 2);
  const pick = rand(n, seed + 100, 0, 1);
  for (let i = 0; i < n; i++) {
    if (pick[i] < nanRate) v[i] = NaN;
    else if (pick[i] < nanRate + 0.02) v[i] = -Infinity;
    else if (pick[i] < nanRate + 0.03) v[i] = Infinity;
  }
  return tf.tensor(v, shape);
}

/** Sets rows (along the last axis) of a [rows, n] array: a leading NaN, all NaN, NaN then a tie, all -Infinity. */
function withEdgeRows(t: tf.Tensor): tf.Tensor {
  const [rows, n] = t.shape;
  const v = t.dataSync().slice() as Float32Array;
  v[0] = NaN; // row 0: NaN first (tfjs keeps index 0)
  v.fill(NaN, n, 2 * n); // row 1: all NaN
  v.fill(1, 2 * n, 3 * n); // row 2: NaN, then ties
  v[2 * n] = NaN;
  v.fill(-Infinity, 3 * n, 4 * n); // row 3: all -Infinity
  t.dispose();
  return tf.tensor(v, [rows, n]);
}

describe('ArgMax and ArgMin skip NaN as tfjs does', () => {
  test('along the last axis: leading NaN, all-NaN rows, ties after a NaN, +-Infinity', () =>
    compareBackends(
      () => {
        const x = withEdgeRows(special([64, 9], 1));
        return [tf.argMax(x, 1), tf.argMin(x, 1), tf.argMax(x, -1), tf.argMin(x, -1)];
      },
      { native: ['ArgMax', 'ArgMin'] },
    ));
  test('along a leading axis and in 3-D', () =>
    compareBackends(
      () => {
        const x = special([40, 7], 2, 0.3);
        const y = special([6, 5, 11], 3, 0.3);
        return [tf.argMax(x, 0), tf.argMin(x, 0), tf.argMax(y, 1), tf.argMin(y, -1), tf.argMax(y, 0)];
      },
      { native: ['ArgMax', 'ArgMin'] },
    ));
  test('tfjs-core spec inputs: 1-D and 3-D rows with a NaN', () =>
    compareBackends(
      () => {
        const a = tf.reshape(tf.tile(tf.tensor1d([5, 0, NaN, -1, 3]), [60]), [60, 5]);
        return [tf.argMax(a, 1), tf.argMin(a, -1), tf.argMin(tf.reshape(a, [60, 1, 5]), -1)];
      },
      { native: ['ArgMax', 'ArgMin'] },
    ));
});

describe('MaxPool skips NaN as tfjs does', () => {
  const pools: { name: string; x: number[]; size: number; strides: number; pad: 'valid' | 'same' }[] = [
    { name: '2x2 stride 2 valid', x: [2, 12, 12, 3], size: 2, strides: 2, pad: 'valid' },
    { name: '3x3 stride 2 same (asymmetric pads)', x: [2, 8, 8, 3], size: 3, strides: 2, pad: 'same' },
    { name: '3x3 stride 1 same (symmetric pads)', x: [1, 7, 6, 2], size: 3, strides: 1, pad: 'same' },
  ];
  for (const p of pools) {
    const pool = (x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, p.size, p.strides, p.pad);
    test(`${p.name}: forward, and the gradient goes to tfjs's max (no gradient from all-NaN windows)`, () =>
      compareBackends(
        () => {
          // 40% NaN: some windows hold only NaN (and -Infinity), where tfjs gives -Infinity and no gradient
          const x = special(p.x, 4, 0.4);
          const y = pool(x);
          const w = tf.tensor(rand(y.size, 5), y.shape);
          const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), w)))(x);
          return [y, dx];
        },
        { native: ['MaxPool', 'MaxPoolGrad'] },
      ));
  }
  test('the tfjs-core spec: x=[3,3,1] f=[2,2] s=1 with NaNs', () =>
    compareBackends(() => tf.maxPool(tf.tensor4d([1, 2, 3, 4, 5, 6, 7, NaN, 9], [1, 3, 3, 1]), 2, 1, 'valid'), {
      native: ['MaxPool'],
    }));
});

describe('1x1 max pools', () => {
  test("a 1x1 pool whose output has the input's shape is tfjs's identity (the cpu kernel's shortcut)", () =>
    compareBackends(
      () => [
        tf.pool(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]), 1, 'max', 1, undefined, 2),
        tf.maxPool(tf.tensor(rand(50, 6), [1, 5, 5, 2]) as tf.Tensor4D, 1, 2, 2),
      ],
      { fallback: ['MaxPool'] },
    ));
  test('other 1x1 pools with windows in the padding run natively: -Infinity there, as tfjs', () =>
    compareBackends(() => tf.maxPool(tf.tensor(rand(32, 7), [1, 4, 4, 2]) as tf.Tensor4D, 1, 3, 1), {
      native: ['MaxPool'],
    }));
});
