import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setNativeThreshold } from '../../src/tfjs-backend/kernel_utils.js';
import { compareBackends, randInt, randTensor, tf } from './helpers.js';

let threshold: number;
before(() => (threshold = setNativeThreshold(0))); // every size natively, so small shapes test the native kernels
after(() => setNativeThreshold(threshold));

const SHAPE = [3, 5, 7];

describe('unary kernels', () => {
  const cases: [string, (x: tf.Tensor) => tf.Tensor, number?, number?][] = [
    ['Abs', tf.abs],
    ['Ceil', (x) => tf.ceil(tf.mul(x, 3))],
    ['Cos', tf.cos],
    ['Elu', tf.elu],
    ['Erf', tf.erf],
    ['Exp', tf.exp],
    ['Expm1', tf.expm1],
    ['Floor', (x) => tf.floor(tf.mul(x, 3))],
    ['Log', tf.log, 0.01, 5],
    ['Log1p', tf.log1p],
    ['Neg', tf.neg],
    ['Reciprocal', tf.reciprocal, 0.1, 2],
    ['Relu', tf.relu],
    ['Relu6', (x) => tf.relu6(tf.mul(x, 8))],
    ['Round', (x) => tf.round(tf.mul(x, 3))],
    ['Rsqrt', tf.rsqrt, 0.01, 4],
    ['Sigmoid', tf.sigmoid],
    ['Sin', tf.sin],
    ['Sqrt', tf.sqrt, 0, 4],
    ['Square', tf.square],
    ['Tanh', tf.tanh],
    ['Step', (x) => tf.step(x)],
    ['LeakyRelu', (x) => tf.leakyRelu(x, 0.3)],
    ['ClipByValue', (x) => tf.clipByValue(x, -0.25, 0.5)],
  ];
  for (const [name, f, lo = -2, hi = 2] of cases) {
    test(name, () => compareBackends(() => f(randTensor(SHAPE, 7, lo, hi)), { native: [name] }));
  }
  test('Step with alpha, NaN and infinities', () =>
    compareBackends(() => tf.step(tf.tensor([NaN, -Infinity, Infinity, 0, -0, 2, -3, 1e-30]), 0.25), {
      native: ['Step'],
    }));
  test('Erf (tfjs approximates it: 1e-6)', () =>
    compareBackends(() => tf.erf(randTensor([1000], 3, -3, 3)), { native: ['Erf'], atol: 1e-6 }));
  test('large tensor (external work split across threads)', () =>
    compareBackends(() => tf.relu(randTensor([64, 26, 26, 32], 11)), { native: ['Relu'] }));
});

describe('binary kernels (broadcasting)', () => {
  const shapes: [number[], number[]][] = [
    [
      [3, 5, 7],
      [3, 5, 7],
    ],
    [[3, 5, 7], [7]],
    [
      [3, 1, 7],
      [1, 5, 1],
    ],
    [[3, 5, 7], []],
    [[], [4, 2]],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, number?][] = [
    ['Add', tf.add],
    ['Sub', tf.sub],
    ['Multiply', tf.mul],
    ['RealDiv', tf.div, 0.5],
    ['Maximum', tf.maximum],
    ['Minimum', tf.minimum],
    ['Pow', tf.pow, 0.1],
    ['SquaredDifference', tf.squaredDifference],
  ];
  for (const [name, f, lo = -2] of ops) {
    for (const [sa, sb] of shapes) {
      test(`${name} [${sa}] x [${sb}]`, () =>
        compareBackends(() => f(randTensor(sa, 1, lo, 2), randTensor(sb, 2, lo, 2)), { native: [name] }));
    }
  }
  const cmp: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['Equal', tf.equal],
    ['NotEqual', tf.notEqual],
    ['Greater', tf.greater],
    ['GreaterEqual', tf.greaterEqual],
    ['Less', tf.less],
    ['LessEqual', tf.lessEqual],
  ];
  for (const [name, f] of cmp) {
    test(`${name} (float32 and int32, broadcast) -> bool`, async () => {
      await compareBackends(
        () => f(tf.cast(randInt([4, 6], 1, -3, 3), 'float32'), tf.cast(randInt([6], 2, -3, 3), 'float32')),
        {
          native: [name],
        },
      );
      await compareBackends(() => f(randInt([4, 6], 1, -3, 3), randInt([4, 1], 2, -3, 3)), { native: [name] });
    });
  }
  for (const [name, f] of [
    ['Add', tf.add],
    ['Sub', tf.sub],
    ['Multiply', tf.mul],
    ['Maximum', tf.maximum],
    ['Minimum', tf.minimum],
  ] as const) {
    test(`${name} int32`, () =>
      compareBackends(() => f(randInt([5, 9], 3, -100, 100), randInt([9], 4, -100, 100)), { native: [name] }));
  }
  test('LogicalAnd / LogicalOr', () =>
    compareBackends(
      () => {
        const a = tf.greater(randTensor([5, 8], 1), 0);
        const b = tf.greater(randTensor([8], 2), 0);
        return [tf.logicalAnd(a, b), tf.logicalOr(a, b)];
      },
      { native: ['LogicalAnd', 'LogicalOr'] },
    ));
  test('Select (the op broadcasts the condition) and the rank-1 legacy form (cpu)', async () => {
    await compareBackends(
      () => {
        const t = randTensor([6, 4], 1);
        const e = randTensor([6, 4], 2);
        return [
          tf.where(tf.greater(randTensor([6, 4], 3), 0), t, e),
          tf.where(tf.greater(randTensor([4], 4), 0), t, e),
        ];
      },
      { native: ['Select'] },
    );
    await compareBackends(
      () => {
        const condition = tf.greater(randTensor([6], 4), 0);
        return tf.engine().runKernel('Select', { condition, t: randTensor([6, 4], 1), e: randTensor([6, 4], 2) });
      },
      { fallback: ['Select'] },
    );
  });
  test('Cast float32 <-> int32 <-> bool', () =>
    compareBackends(
      () => {
        const x = randTensor([4, 9], 5, -4, 4);
        const i = tf.cast(x, 'int32');
        const b = tf.greater(x, 0);
        return [
          i,
          tf.cast(x, 'bool'),
          tf.cast(i, 'float32'),
          tf.cast(i, 'bool'),
          tf.cast(b, 'float32'),
          tf.cast(b, 'int32'),
        ];
      },
      { native: ['Cast'] },
    ));
});

describe('reductions and others', () => {
  const x = () => randTensor([4, 6, 5], 9, 0, 2);
  test('Sum over one, several and all axes, keepDims', () =>
    compareBackends(
      () => [tf.sum(x(), 0), tf.sum(x(), [0, 2]), tf.sum(x()), tf.sum(x(), -1, true), tf.sum(x(), [1, 2], true)],
      {
        native: ['Sum'],
      },
    ));
  test('Sum of int32 and bool', () =>
    compareBackends(() => [tf.sum(randInt([6, 7], 1, -9, 9), 1), tf.sum(tf.greater(randTensor([6, 7], 2), 0), 0)], {
      native: ['Sum'],
    }));
  test('Mean, Max, Min, Prod', () =>
    compareBackends(
      () => [
        tf.mean(x(), [0, 1]),
        tf.max(x(), 1),
        tf.min(x(), [0, 2], true),
        tf.prod(x(), 2),
        tf.max(randInt([3, 4], 1, -5, 5), 0),
      ],
      { native: ['Mean', 'Max', 'Min', 'Prod'] },
    ));
  test('All, Any', () =>
    compareBackends(
      () => {
        const b = tf.greater(randTensor([5, 6], 1, -0.3, 1), 0);
        return [tf.all(b, 1), tf.any(b, 0), tf.all(b)];
      },
      { native: ['All', 'Any'] },
    ));
  test('ArgMax, ArgMin (ties go to the first)', () =>
    compareBackends(
      () => {
        const t = tf.cast(randInt([5, 7, 3], 1, 0, 3), 'float32');
        return [tf.argMax(t, 1), tf.argMin(t, -1), tf.argMax(t, 0)];
      },
      { native: ['ArgMax', 'ArgMin'] },
    ));
  test('Softmax', () => compareBackends(() => tf.softmax(randTensor([64, 10], 1, -5, 5)), { native: ['Softmax'] }));
  test('Transpose (float32, int32, bool)', () =>
    compareBackends(
      () => [
        tf.transpose(randTensor([2, 3, 4, 5], 1), [0, 3, 1, 2]),
        tf.transpose(randInt([3, 4], 1, 0, 9)),
        tf.transpose(tf.greater(randTensor([3, 4, 2], 2), 0), [2, 0, 1]),
      ],
      { native: ['Transpose'] },
    ));
  test('Tile', () =>
    compareBackends(() => [tf.tile(randTensor([2, 3], 1), [3, 2]), tf.tile(randInt([2, 1, 3], 1, 0, 9), [1, 4, 2])], {
      native: ['Tile'],
    }));
  test('GatherV2 (float32, int32, bool; axis 0 and 1)', () =>
    compareBackends(
      () => {
        const idx = randInt([64], 7, 0, 50);
        return [
          tf.gather(randTensor([50, 7, 3], 1), idx),
          tf.gather(randTensor([4, 50, 3], 2), randInt([2, 5], 8, 0, 50), 1),
          tf.gather(randInt([50, 9], 3, -9, 9), idx),
          tf.gather(tf.greater(randTensor([50, 9], 4), 0), idx),
          tf.gather(tf.oneHot(randInt([50], 5, 0, 10), 10), idx), // int32 kept in a Float32Array by the cpu OneHot
        ];
      },
      { native: ['GatherV2'] },
    ));
  test("GatherV2 with an index out of range: the cpu kernel throws tfjs's error", async () => {
    for (const backend of ['cpu', 'torch']) {
      await tf.setBackend(backend);
      assert.throws(
        () => tf.tidy(() => tf.gather(randTensor([50, 9], 1), tf.tensor1d([3, 50], 'int32'))),
        /GatherV2: the index value 50 is not in \[0, 49\]/,
      );
    }
  });
});
