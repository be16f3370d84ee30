import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { native } from '../../src/native/binding.js';
import { kernelStats, resetKernelStats } from '../../src/tfjs-backend/index.js';
import { compareBackends, rand, randInt, randTensor, tf } from './helpers.js';

describe('fallback to the cpu kernels', () => {
  test('int32 RealDiv, complex64 Add and string Tile run on the cpu kernels, with cpu results', async () => {
    await compareBackends(
      () =>
        tf.engine().runKernel('RealDiv', { a: randInt([40, 40], 1, 1, 9), b: randInt([40, 40], 2, 1, 9) }) as tf.Tensor,
      { fallback: ['RealDiv'] },
    );
    await compareBackends(
      () => {
        const c = tf.complex(randTensor([30, 30], 1), randTensor([30, 30], 2));
        return tf.real(tf.add(c, c));
      },
      { fallback: ['Add'] },
    );
    await tf.setBackend('torch');
    resetKernelStats();
    const s = tf.tidy(() => tf.tile(tf.tensor([['a', 'b', 'c']]), [2, 1]));
    assert.deepEqual(s.arraySync(), [
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
    s.dispose();
    assert.ok(kernelStats().cpu.Tile, 'string Tile fell back');
  });

  test('tensors below the size threshold run on the cpu kernels', async () => {
    await compareBackends(() => tf.add(randTensor([4, 4], 1), randTensor([4, 4], 2)), { fallback: ['Add'] });
    await compareBackends(() => tf.add(randTensor([40, 40], 1), randTensor([40, 40], 2)), { native: ['Add'] });
  });

  test('an int32 conv (no native int kernel) runs on cpu', async () => {
    const run = () =>
      tf
        .engine()
        .runKernel(
          'Conv2D',
          { x: randInt([1, 5, 5, 1], 1, 0, 5), filter: randInt([2, 2, 1, 1], 2, 0, 5) },
          { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 },
        ) as tf.Tensor;
    await compareBackends(run, { fallback: ['Conv2D'] });
  });
});

describe('native errors are JS errors', () => {
  const k = native.tfjs;
  test('wrong output size, wrong types, shape/data mismatch, bad attributes, unknown activation', () => {
    const x = rand(12, 1);
    assert.throws(() => k.Relu(new Float32Array(5), x), /Relu: .*12 elements but the output array holds 5/);
    assert.throws(() => k.Relu(new Float32Array(12), [1, 2, 3] as unknown as Float32Array), {
      name: 'TypeError',
      message: /Relu: argument 1 must be a Float32Array, Int32Array or Uint8Array/,
    });
    assert.throws(
      () => k.Relu(new Float64Array(12) as unknown as Float32Array, x),
      /argument 0 must be a Float32Array/,
    );
    assert.throws(
      () => k.Add(new Float32Array(12), { a: x, aShape: [5, 3], b: x }),
      /Add: attrs.a has 12 elements but attrs.aShape holds 15/,
    );
    assert.throws(
      () => k.Add(new Float32Array(12), { a: x, aShape: [3, 4], b: rand(5), bShape: [5] }),
      /Add: .*(size|match)/i,
    );
    const geometry = { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], channelsLast: true };
    const conv = { x, xShape: [1, 2, 2, 3], filter: rand(3), filterShape: [1, 1, 3, 1], ...geometry };
    assert.throws(() => k.Conv2D(new Float32Array(4), { ...conv, strides: [1] }), {
      name: 'TypeError',
      message: /Conv2D: attrs.strides must be an array of 2 integers \(got an array\)/,
    });
    assert.throws(
      () => k.Conv2D(new Float32Array(4), { ...conv, strides: [0, 0] }),
      /Conv2D: attrs.strides must be \[strideHeight, strideWidth\], both positive/,
    );
    assert.throws(
      () =>
        k._FusedMatMul(new Float32Array(9), {
          a: rand(6),
          aShape: [3, 2],
          b: rand(6),
          bShape: [2, 3],
          transposeA: false,
          transposeB: false,
          activation: 'swish',
        }),
      /unsupported fused activation 'swish'/,
    );
    assert.throws(
      () =>
        k.MaxPoolGrad(new Float32Array(12), {
          dy: rand(3),
          dyShape: [1, 1, 1, 3],
          x,
          xShape: [1, 2, 2, 3],
          filterSize: [1, 1],
          ...geometry,
        }),
      /MaxPoolGrad: dy has shape \[1, 3, 1, 1\] but the pooled input has \[1, 3, 2, 2\]/,
    );
    for (const bad of [
      [0, 1],
      [-1, 1],
    ]) {
      assert.throws(
        () => k.Conv2D(new Float32Array(12), { ...conv, strides: bad }),
        /Conv2D: attrs.strides must be \[strideHeight, strideWidth\], both positive/,
      );
    }
    assert.throws(
      () => k.MaxPool(new Float32Array(12), { x, xShape: [1, 2, 2, 3], filterSize: [0, 1], ...geometry }),
      /MaxPool: attrs.filterSize must be \[filterHeight, filterWidth\], both positive/,
    );
    assert.throws(
      () =>
        k.BatchMatMul(new Float32Array(0), {
          a: new Float32Array(0),
          aShape: [0, 3],
          b: rand(12),
          bShape: [4, 3],
          transposeA: false,
          transposeB: false,
        }),
      /inner/,
    );
    // attrs: not an object, missing fields, mistyped fields, each named
    type Attrs = Parameters<typeof k.Conv2D>[1];
    assert.throws(() => k.Conv2D(new Float32Array(4), x as unknown as Attrs), {
      name: 'TypeError',
      message: /Conv2D: argument 1 must be an object of named inputs and attributes \(got a typed array\)/,
    });
    const { pads: _pads, ...noPads } = conv;
    assert.throws(() => k.Conv2D(new Float32Array(4), noPads as Attrs), {
      name: 'TypeError',
      message: /Conv2D: attrs.pads must be an array of 4 integers \(got undefined\)/,
    });
    assert.throws(() => k.Conv2D(new Float32Array(4), { ...conv, channelsLast: 1 } as unknown as Attrs), {
      name: 'TypeError',
      message: /Conv2D: attrs.channelsLast must be a boolean \(got the number 1\)/,
    });
    assert.throws(() => k.Conv2D(new Float32Array(4), { ...conv, filter: [1, 2, 3] } as unknown as Attrs), {
      name: 'TypeError',
      message: /Conv2D: attrs.filter must be a Float32Array, Int32Array or Uint8Array \(got an array\)/,
    });
    assert.throws(() => k.Conv2D(new Float32Array(4), { ...conv, xShape: [1, 2.5, 2, 3] }), {
      name: 'TypeError',
      message: /Conv2D: attrs.xShape must be an array of integers/,
    });
    assert.throws(() => k.Sum(new Float32Array(1), { x, xShape: [12] } as unknown as Parameters<typeof k.Sum>[1]), {
      name: 'TypeError',
      message: /Sum: attrs.axes must be an array of integers \(got undefined\)/,
    });
    assert.throws(() => k.ArgMax(new Int32Array(1), { x, xShape: [12], axis: 0.5 }), {
      name: 'TypeError',
      message: /ArgMax: attrs.axis must be an integer \(got the number 0.5\)/,
    });
    assert.throws(() => k.LeakyRelu(new Float32Array(12), x, {} as { alpha: number }), {
      name: 'TypeError',
      message: /LeakyRelu: attrs.alpha must be a number \(got undefined\)/,
    });
    // still alive and correct afterwards
    const out = new Float32Array(12);
    k.Relu(out, x);
    assert.deepEqual(
      Array.from(out),
      Array.from(x, (v) => Math.max(v, 0)),
    );
  });
});

describe('empty tensors', () => {
  test('matMul, conv2d and elementwise ops with a zero-size dimension match cpu', () =>
    compareBackends(() => [
      tf.matMul(tf.zeros([0, 3]), randTensor([3, 4], 1)),
      tf.matMul(randTensor([4, 0], 1), tf.zeros([0, 5])),
      tf.conv2d(tf.zeros([0, 5, 5, 2]) as tf.Tensor4D, randTensor([3, 3, 2, 4], 2) as tf.Tensor4D, 1, 'same'),
      tf.add(tf.zeros([0, 7]), randTensor([7], 3)),
      tf.sum(tf.zeros([0, 7]), 0),
    ]));
});

describe('recycled output memory', () => {
  test("a dataSync() result stays valid after its tensor is disposed and the memory's size is reused", async () => {
    await tf.setBackend('torch');
    const x = randTensor([64, 26, 26, 8], 1);
    const y = tf.relu(x);
    const kept = y.dataSync();
    const copy = kept.slice();
    y.dispose();
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.neg(tf.relu(x)));
    assert.deepEqual(kept, copy);
    x.dispose();
  });
  test('a tensor sharing a recycled array (a slice of it) keeps its values', async () => {
    await tf.setBackend('torch');
    const x = randTensor([64, 26, 26, 8], 1);
    const y = tf.relu(x);
    const s = tf.slice(y, [3], [2]); // the cpu kernel's Slice: a subarray of y's array under a new tensor
    const expected = s.dataSync().slice();
    y.dispose();
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.neg(tf.relu(x)));
    assert.deepEqual(s.dataSync(), expected);
    tf.dispose([x, s]);
  });
  test('memory is reused across steps (no new allocations in steady state)', async () => {
    await tf.setBackend('torch');
    const pool = (tf.backend() as unknown as { pool: { stats: { allocated: number } } }).pool;
    const x = randTensor([64, 26, 26, 8], 1);
    const step = () => tf.tidy(() => tf.sum(tf.mul(tf.relu(x), x)));
    for (let i = 0; i < 3; i++) step().dispose();
    const before = pool.stats.allocated;
    for (let i = 0; i < 10; i++) step().dispose();
    assert.equal(pool.stats.allocated, before);
    x.dispose();
  });
});
