import { describe, test } from 'node:test';
import { compareBackends, randTensor, tf } from './helpers.js';

const TOL = { rtol: 1e-4, atol: 1e-4 };
type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string;
  x: number[]; // NHWC (NCHW when nchw)
  f: number[]; // HWIO
  strides: number;
  pad: Pad;
  dilations?: number;
  nchw?: boolean;
}

const CASES: ConvCase[] = [
  { name: 'valid, stride 1', x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { name: 'same, stride 1', x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: 'valid, stride 2 (uncovered last row)', x: [2, 10, 9, 3], f: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { name: 'same, stride 2, asymmetric pads', x: [2, 8, 8, 2], f: [5, 5, 2, 3], strides: 2, pad: 'same' },
  { name: 'batch 1, one input channel', x: [1, 12, 11, 1], f: [3, 3, 1, 8], strides: 1, pad: 'valid' },
  { name: '1x1 filter', x: [3, 5, 5, 6], f: [1, 1, 6, 4], strides: 1, pad: 'same' },
  {
    name: 'explicit asymmetric pads',
    x: [2, 7, 6, 2],
    f: [3, 2, 2, 3],
    strides: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { name: 'NCHW', x: [2, 3, 9, 8], f: [3, 3, 3, 4], strides: 2, pad: 'same', nchw: true },
];

function conv(c: ConvCase, x: tf.Tensor, f: tf.Tensor): tf.Tensor4D {
  return tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad, c.nchw ? 'NCHW' : 'NHWC', c.dilations ?? 1);
}

describe('Conv2D', () => {
  for (const c of [
    ...CASES,
    { name: 'dilation 2', x: [2, 9, 9, 2], f: [3, 3, 2, 3], strides: 1, pad: 'same' as Pad, dilations: 2 },
  ]) {
    test(c.name, () =>
      compareBackends(() => conv(c, randTensor(c.x, 1), randTensor(c.f, 2)), { ...TOL, native: ['Conv2D'] }),
    );
  }
  test("dimRoundingMode 'ceil' that libtorch can't reproduce falls back to cpu; 'floor' runs natively", async () => {
    const run = (mode: 'ceil' | 'floor') => () =>
      tf.conv2d(
        randTensor([1, 8, 8, 2], 1) as tf.Tensor4D,
        randTensor([3, 3, 2, 2], 2) as tf.Tensor4D,
        2,
        1,
        'NHWC',
        1,
        mode,
      );
    await compareBackends(run('ceil'), { ...TOL, fallback: ['Conv2D'] });
    await compareBackends(run('floor'), { ...TOL, native: ['Conv2D'] });
  });
  test('a batch big enough to run in chunks (NHWC, NCHW, fused)', () =>
    compareBackends(
      () => {
        const f = randTensor([3, 3, 1, 32], 2) as tf.Tensor4D;
        return [
          tf.conv2d(randTensor([300, 28, 28, 1], 1) as tf.Tensor4D, f, 1, 'valid'),
          tf.conv2d(randTensor([300, 1, 28, 28], 1) as tf.Tensor4D, f, 1, 'same', 'NCHW'),
          tf.fused.conv2d({
            x: randTensor([300, 28, 28, 1], 3) as tf.Tensor4D,
            filter: f,
            strides: 1,
            pad: 'valid',
            bias: randTensor([32], 4),
            activation: 'relu',
          }),
        ];
      },
      { ...TOL, native: ['Conv2D', 'FusedConv2D'] },
    ));
  test('conv2dTranspose (Conv2DBackpropInput)', () =>
    compareBackends(
      () =>
        tf.conv2dTranspose(
          randTensor([2, 4, 4, 3], 1) as tf.Tensor4D,
          randTensor([3, 3, 5, 3], 2) as tf.Tensor4D,
          [2, 9, 9, 5],
          2,
          'valid',
        ),
      { ...TOL, native: ['Conv2DBackpropInput'] },
    ));
});

describe('Conv2D gradients (Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
  for (const c of CASES) {
    test(c.name, () =>
      compareBackends(
        () => {
          const x = randTensor(c.x, 1);
          const f = randTensor(c.f, 2);
          const y = conv(c, x, f);
          const w = randTensor(y.shape, 3); // a loss that weighs every output differently
          const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(c, a, b), w)))([x, f]);
          return [dx, df];
        },
        { ...TOL, native: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'] },
      ),
    );
  }
});

describe('FusedConv2D (Layers inference: conv + bias + activation)', () => {
  const acts = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const;
  for (const activation of acts) {
    test(activation, () =>
      compareBackends(
        () =>
          tf.fused.conv2d({
            x: randTensor([2, 9, 9, 3], 1) as tf.Tensor4D,
            filter: randTensor([3, 3, 3, 4], 2) as tf.Tensor4D,
            strides: 1,
            pad: 'same',
            bias: randTensor([4], 3),
            activation,
            leakyreluAlpha: 0.3,
          }),
        { ...TOL, native: ['FusedConv2D'] },
      ),
    );
  }
  test('no bias; NCHW with a per-channel bias; prelu falls back to cpu', async () => {
    await compareBackends(
      () =>
        tf.fused.conv2d({
          x: randTensor([2, 9, 9, 3], 1) as tf.Tensor4D,
          filter: randTensor([3, 3, 3, 4], 2) as tf.Tensor4D,
          strides: 2,
          pad: 'valid',
          activation: 'relu',
        }),
      { ...TOL, native: ['FusedConv2D'] },
    );
    await compareBackends(
      () =>
        tf.fused.conv2d({
          x: randTensor([2, 3, 9, 9], 1) as tf.Tensor4D,
          filter: randTensor([3, 3, 3, 4], 2) as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          dataFormat: 'NCHW',
          bias: randTensor([4], 3),
        }),
      { ...TOL, native: ['FusedConv2D'] },
    );
    await compareBackends(
      () =>
        tf.fused.conv2d({
          x: randTensor([2, 9, 9, 3], 1) as tf.Tensor4D,
          filter: randTensor([3, 3, 3, 4], 2) as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: randTensor([4], 3),
          activation: 'prelu',
          preluActivationWeights: randTensor([4], 4),
        }),
      { ...TOL, fallback: ['FusedConv2D'] },
    );
  });
});

describe('MaxPool and MaxPoolGrad', () => {
  const pools: { name: string; x: number[]; size: number; strides: number; pad: 'valid' | 'same' }[] = [
    { name: '2x2 stride 2 valid', x: [2, 26, 26, 8], size: 2, strides: 2, pad: 'valid' },
    { name: '2x2 stride 2 valid, odd size', x: [2, 11, 11, 4], size: 2, strides: 2, pad: 'valid' },
    { name: '3x3 stride 2 same (symmetric pads)', x: [2, 7, 7, 3], size: 3, strides: 2, pad: 'same' },
    { name: '3x3 stride 2 same (asymmetric pads)', x: [2, 8, 8, 3], size: 3, strides: 2, pad: 'same' },
    { name: '3x3 stride 1 same, batch 1', x: [1, 6, 5, 2], size: 3, strides: 1, pad: 'same' },
    { name: '2x2 stride 1 same (pad only after)', x: [1, 6, 5, 2], size: 2, strides: 1, pad: 'same' },
  ];
  for (const p of pools) {
    const pool = (x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, p.size, p.strides, p.pad);
    test(p.name, () =>
      compareBackends(
        () => {
          // relu of rounded values: many ties (zeros) inside a window, where the gradient must go to the first
          const x = tf.relu(tf.round(tf.mul(randTensor(p.x, 1), 3)));
          const y = pool(x);
          const w = randTensor(y.shape, 2);
          const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), w)))(x);
          return [y, dx];
        },
        { ...TOL, native: ['MaxPool', 'MaxPoolGrad'] },
      ),
    );
  }
});
