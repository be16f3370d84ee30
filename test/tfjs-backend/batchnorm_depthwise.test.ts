// FusedBatchNorm, the depthwise convolutions and tf.pad / tf.slice (the kernels of a ResNet/MobileNet training step
// besides Conv2D) against tfjs-cpu: forward, gradients, fallbacks, errors, and tfjs-layers' BatchNormalization.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tfl from '@tensorflow/tfjs-layers';
import { native } from '../../src/native/binding.js';
import { withSeededMathRandom } from '../../src/engines/keras-seed.js';
import { kernelStats, resetKernelStats } from '../../src/tfjs-backend/index.js';
import { assertClose, compareBackends, rand, randInt, randTensor, tf } from './helpers.js';

const TOL = { rtol: 1e-4, atol: 1e-4 };
type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

/** Seeded integers in [lo, hi]: the random shapes below are the same every run. */
function ints(n: number, seed: number, lo: number, hi: number): number[] {
  return Array.from(rand(n, seed, lo, hi + 1), Math.floor);
}

describe('FusedBatchNorm', () => {
  const cases: { name: string; x: number[]; p: number[] }[] = [
    { name: 'rank 4 NHWC, rank-1 parameters', x: [2, 6, 5, 8], p: [8] },
    { name: 'rank 4, batch 1', x: [1, 7, 7, 16], p: [16] },
    { name: 'rank 2 (Dense → BatchNorm)', x: [40, 16], p: [16] },
    { name: 'rank 3', x: [5, 9, 12], p: [12] },
    { name: 'rank 4, parameters [1, 1, 1, C]', x: [2, 6, 5, 8], p: [1, 1, 1, 8] },
    { name: 'rank 4, parameters over [W, C]', x: [2, 6, 5, 8], p: [5, 8] },
    { name: 'rank 2, parameters as large as x', x: [20, 16], p: [20, 16] },
  ];
  for (const c of cases) {
    for (const [withOffset, withScale] of [
      [true, true],
      [false, false],
      [true, false],
      [false, true],
    ]) {
      const what = `${withOffset ? 'offset' : 'no offset'}, ${withScale ? 'scale' : 'no scale'}`;
      test(`${c.name}, ${what}`, () =>
        compareBackends(
          () =>
            tf.batchNorm(
              randTensor(c.x, 1, -3, 3),
              randTensor(c.p, 2),
              randTensor(c.p, 3, 0.05, 2),
              withOffset ? randTensor(c.p, 4) : undefined,
              withScale ? randTensor(c.p, 5, 0.5, 2) : undefined,
              1e-3,
            ),
          { rtol: 1e-5, atol: 1e-5, native: ['FusedBatchNorm'] },
        ));
    }
  }
  test('varianceEpsilon, NaN and Infinity as on cpu', () =>
    compareBackends(
      () => {
        const x = randTensor([4, 4, 4, 8], 1).bufferSync();
        x.set(NaN, 0, 0, 0, 0);
        x.set(Infinity, 1, 1, 1, 1);
        x.set(-Infinity, 2, 2, 2, 2);
        const v = randTensor([8], 3, 0, 1).bufferSync();
        v.set(0, 3); // variance 0: only epsilon
        return [0.1, 1e-5].map((eps) =>
          tf.batchNorm(x.toTensor(), randTensor([8], 2), v.toTensor(), randTensor([8], 4), randTensor([8], 5), eps),
        );
      },
      { rtol: 1e-5, atol: 1e-5, native: ['FusedBatchNorm'] },
    ));
  test('a mean far from 0 against a small spread: (x - mean) first, no cancellation (1e-5 of tfjs)', () =>
    compareBackends(
      () =>
        [
          [1000, 1],
          [10, 0.01],
        ].map(([shift, spread]) =>
          tf.batchNorm(
            tf.add(randTensor([8, 8, 8, 16], 1, -spread, spread), shift),
            tf.add(randTensor([16], 2, -0.1 * spread, 0.1 * spread), shift),
            randTensor([16], 3, 0.5 * spread * spread, spread * spread),
            randTensor([16], 4),
            randTensor([16], 5),
            1e-8 * spread * spread,
          ),
        ),
      { rtol: 1e-5, atol: 1e-5, native: ['FusedBatchNorm'] },
    ));
  test('random shapes (seeded)', () =>
    compareBackends(
      () =>
        [11, 12, 13, 14, 15].map((seed) => {
          const [n, h, w, ch] = ints(4, seed, 1, 9);
          const x = randTensor([n, h, w, ch * 4], seed, -2, 2);
          const p = [ch * 4];
          return tf.batchNorm(x, randTensor(p, seed + 1), randTensor(p, seed + 2, 0.1, 3), randTensor(p, seed + 3));
        }),
      { rtol: 1e-5, atol: 1e-5 },
    ));
  test("parameters whose length isn't a suffix of x's shape, and tiny inputs, fall back to cpu", async () => {
    // the cpu kernel cycles through 3 means over rows of 8: not a broadcast
    await compareBackends(
      () => tf.batchNorm(randTensor([4, 4, 4, 8], 1), randTensor([3], 2), randTensor([3], 3, 0.1, 1)),
      { fallback: ['FusedBatchNorm'] },
    );
    await compareBackends(() => tf.batchNorm(randTensor([2, 8], 1), randTensor([8], 2), randTensor([8], 3, 0.1, 1)), {
      fallback: ['FusedBatchNorm'],
    });
  });

  // Rank-1 parameters with offset and scale only: tfjs-core 4.22's batchNorm gradient itself fails without either
  // (on cpu as well: "Cannot read properties of undefined (reading 'dataId')") and doesn't reduce rank-4 ones.
  const gradCases: { name: string; x: number[]; p: number[] }[] = [
    { name: 'rank 4, rank-1 parameters', x: [2, 5, 6, 8], p: [8] },
    { name: 'rank 3', x: [5, 7, 8], p: [8] },
    { name: 'rank 2', x: [32, 16], p: [16] },
    { name: 'rank 4, batch 1', x: [1, 6, 6, 12], p: [12] },
  ];
  for (const c of gradCases) {
    test(`gradients through tf.batchNorm (x, mean, variance, offset, scale): ${c.name}`, () =>
      compareBackends(
        () => {
          const args = [
            randTensor(c.x, 1, -2, 2),
            randTensor(c.p, 2),
            randTensor(c.p, 3, 0.1, 2),
            randTensor(c.p, 4),
            randTensor(c.p, 5, 0.5, 2),
          ];
          const w = randTensor(c.x, 6);
          const f = (x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor) =>
            tf.sum(tf.mul(tf.batchNorm(x, mean, variance, offset, scale, 1e-3), w));
          return tf.grads(f)(args);
        },
        { ...TOL, native: ['FusedBatchNorm'] },
      ));
  }
  test("gradients of the training path (tf.moments → tf.batchNorm, as tfjs-layers' BatchNormalization)", () =>
    compareBackends(
      () => {
        const x = randTensor([4, 6, 6, 8], 1, -2, 2);
        const w = randTensor(x.shape, 2);
        const f = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, beta, gamma, 1e-3), w));
        };
        return tf.grads(f)([x, randTensor([8], 3, 0.5, 2), randTensor([8], 4)]);
      },
      { ...TOL, native: ['FusedBatchNorm', 'Mean'] },
    ));
});

interface DwCase {
  name: string;
  x: number[]; // NHWC
  f: number[]; // [fh, fw, inC, multiplier]
  strides: number;
  pad: Pad;
  dilations?: number;
}

const DW_CASES: DwCase[] = [
  { name: 'valid, stride 1, multiplier 1', x: [2, 9, 9, 4], f: [3, 3, 4, 1], strides: 1, pad: 'valid' },
  { name: 'same, stride 1, multiplier 2', x: [2, 9, 8, 3], f: [3, 3, 3, 2], strides: 1, pad: 'same' },
  { name: 'same, stride 2 (asymmetric pads), multiplier 1', x: [2, 8, 8, 6], f: [3, 3, 6, 1], strides: 2, pad: 'same' },
  { name: 'valid, stride 2, multiplier 2', x: [2, 10, 9, 3], f: [3, 3, 3, 2], strides: 2, pad: 'valid' },
  { name: 'batch 1, 5x5 filter, same', x: [1, 11, 12, 5], f: [5, 5, 5, 1], strides: 1, pad: 'same' },
  { name: 'batch 1, one channel, multiplier 3', x: [1, 7, 7, 1], f: [3, 3, 1, 3], strides: 1, pad: 'valid' },
  {
    name: 'explicit asymmetric pads, multiplier 2',
    x: [2, 7, 6, 3],
    f: [3, 2, 3, 2],
    strides: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  {
    name: 'explicit pads, stride 2 (what ZeroPadding2D + valid gives)',
    x: [2, 8, 8, 4],
    f: [3, 3, 4, 1],
    strides: 2,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  // random shapes from a seeded generator
  ...[21, 22, 23, 24].map((seed): DwCase => {
    const [n, h, w, c, k, m, s] = ints(7, seed, 1, 6);
    const kk = 1 + (k % 3);
    return {
      name: `random (seed ${seed})`,
      x: [n, h + 4, w + 4, c],
      f: [kk, kk, c, 1 + (m % 2)],
      strides: 1 + (s % 2),
      pad: seed % 2 ? 'same' : 'valid',
    };
  }),
];

function dw(c: DwCase, x: tf.Tensor, f: tf.Tensor): tf.Tensor4D {
  return tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
}

describe('DepthwiseConv2dNative', () => {
  for (const c of [
    ...DW_CASES,
    { name: 'dilation 2', x: [2, 9, 9, 2], f: [3, 3, 2, 2], strides: 1, pad: 'same' as Pad, dilations: 2 },
  ]) {
    test(`${c.name}: x [${c.x}], filter [${c.f}]`, () =>
      compareBackends(() => dw(c, randTensor(c.x, 1), randTensor(c.f, 2)), {
        ...TOL,
        native: ['DepthwiseConv2dNative'],
      }));
  }
  test('fused (bias + relu, leakyrelu), prelu falls back', async () => {
    for (const activation of ['relu', 'leakyrelu', 'linear'] as const) {
      await compareBackends(
        () =>
          tf.fused.depthwiseConv2d({
            x: randTensor([2, 8, 8, 4], 1) as tf.Tensor4D,
            filter: randTensor([3, 3, 4, 2], 2) as tf.Tensor4D,
            strides: 2,
            pad: 'same',
            bias: randTensor([8], 3),
            activation,
            leakyreluAlpha: 0.3,
          }),
        { ...TOL, native: ['FusedDepthwiseConv2D'] },
      );
    }
    await compareBackends(
      () =>
        tf.fused.depthwiseConv2d({
          x: randTensor([2, 8, 8, 4], 1) as tf.Tensor4D,
          filter: randTensor([3, 3, 4, 1], 2) as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: randTensor([4], 3),
          activation: 'prelu',
          preluActivationWeights: randTensor([4], 4),
        }),
      { ...TOL, fallback: ['FusedDepthwiseConv2D'] },
    );
  });
  test("dimRoundingMode 'ceil' that libtorch can't reproduce and NCHW (which the cpu kernel reads as NHWC) fall back", async () => {
    await compareBackends(
      () =>
        tf.depthwiseConv2d(
          randTensor([1, 8, 8, 2], 1) as tf.Tensor4D,
          randTensor([3, 3, 2, 1], 2) as tf.Tensor4D,
          2,
          1,
          'NHWC',
          1,
          'ceil',
        ),
      { ...TOL, fallback: ['DepthwiseConv2dNative'] },
    );
    await compareBackends(
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNative',
            { x: randTensor([1, 6, 6, 4], 1), filter: randTensor([3, 3, 4, 1], 2) },
            { strides: 1, pad: 'valid', dataFormat: 'NCHW', dilations: 1 },
          ) as tf.Tensor,
      { ...TOL, fallback: ['DepthwiseConv2dNative'] },
    );
  });
});

describe('DepthwiseConv2dNative gradients (BackpropFilter, BackpropInput)', () => {
  for (const c of DW_CASES) {
    test(`${c.name}: x [${c.x}], filter [${c.f}]`, () =>
      compareBackends(
        () => {
          const x = randTensor(c.x, 1);
          const f = randTensor(c.f, 2);
          const w = randTensor(dw(c, x, f).shape, 3); // a loss that weighs every output differently
          return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(dw(c, a, b), w)))([x, f]);
        },
        { ...TOL, native: ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] },
      ));
  }
});

describe('PadV2 and Slice (ZeroPadding2D and its gradient)', () => {
  test('tf.pad of float32 and int32, zero and other constants', () =>
    compareBackends(
      () => [
        tf.pad(randTensor([2, 7, 6, 4], 1), [
          [0, 0],
          [1, 1],
          [1, 2],
          [0, 0],
        ]),
        tf.pad(
          randTensor([30, 20], 2),
          [
            [2, 0],
            [3, 1],
          ],
          -1.5,
        ),
        tf.pad(
          randInt([9, 40], 3, -5, 5),
          [
            [1, 1],
            [0, 2],
          ],
          7,
        ),
      ],
      { native: ['PadV2'] },
    ));
  test('tf.slice: crops in every axis (native), a contiguous run and a tiny slice (cpu, sharing the data)', async () => {
    await compareBackends(
      () => [
        tf.slice(randTensor([4, 10, 10, 8], 1), [0, 1, 1, 0], [4, 8, 8, 8]),
        tf.slice(randTensor([4, 10, 10, 8], 2), [1, 2, 0, 3], [2, 5, 10, 4]),
        tf.slice(randInt([30, 30], 3, -9, 9), [3, 4], [20, 20]),
        tf.slice(tf.greater(randTensor([30, 30], 4), 0), [3, 4], [20, 20]),
      ],
      { native: ['Slice'] },
    );
    await compareBackends(() => tf.slice(randTensor([8, 10, 10, 4], 1), [2, 0, 0, 0], [3, 10, 10, 4]), {
      fallback: ['Slice'],
    });
    await compareBackends(() => tf.slice(randTensor([8, 10], 1), [2, 1], [3, 4]), { fallback: ['Slice'] });
  });
  test('the gradient of tf.pad is a native Slice', () =>
    compareBackends(
      () => {
        const x = randTensor([2, 8, 8, 6], 1);
        const pads: [number, number][] = [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ];
        const w = randTensor([2, 10, 10, 6], 2);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.pad(a, pads), w)))(x);
      },
      { native: ['PadV2', 'Slice'] },
    ));
});

describe('bad calls are JS errors', () => {
  const k = native.tfjs;
  test('groups that do not divide the channels, parameters that do not broadcast, slices out of range', () => {
    const geometry = { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], channelsLast: true };
    const call = { x: rand(48, 1), xShape: [1, 4, 4, 3], filter: rand(4, 2), filterShape: [1, 1, 1, 4], ...geometry };
    assert.throws(() => k.DepthwiseConv2dNative(new Float32Array(64), { ...call, groups: 3 }), Error);
    assert.throws(() => k.DepthwiseConv2dNative(new Float32Array(64), { ...call, groups: 0 }), {
      name: 'TypeError',
      message: /DepthwiseConv2dNative: attrs.groups must be a positive integer/,
    });
    const bn = {
      x: rand(48, 1),
      xShape: [1, 4, 4, 3],
      mean: rand(4, 2),
      meanShape: [4],
      variance: rand(3, 3, 0.1, 1),
      varianceShape: [3],
      varianceEpsilon: 1e-3,
    };
    assert.throws(() => k.FusedBatchNorm(new Float32Array(48), bn), /size|match|broadcast/i);
    const wide = { ...bn, mean: rand(15, 2), meanShape: [5, 3], variance: rand(15, 3, 0.1, 1), varianceShape: [5, 3] };
    assert.throws(
      () => k.FusedBatchNorm(new Float32Array(48), wide),
      /FusedBatchNorm: the parameters \(broadcast to \[5, 3\]\) must have the shape of x's last axes \[1, 4, 4, 3\]/,
    );
    assert.throws(() => k.FusedBatchNorm(new Float32Array(48), { ...bn, mean: rand(3) }), {
      name: 'RangeError',
      message: /FusedBatchNorm: attrs.mean has 3 elements but attrs.meanShape holds 4/,
    });
    assert.throws(
      () => k.Slice(new Float32Array(8), { x: rand(48, 1), xShape: [4, 12], begin: [2, 0], size: [4, 2] }),
      /Slice: attrs.size must be within x's shape/,
    );
    assert.throws(
      () =>
        k.PadV2(new Float32Array(70), { x: rand(48, 1), xShape: [4, 12], paddings: [1, 1, -1, 0], constantValue: 0 }),
      /PadV2: attrs.paddings must be non-negative/,
    );
    // still alive and correct afterwards
    const out = new Float32Array(48);
    k.FusedBatchNorm(out, { ...bn, mean: rand(3, 2), meanShape: [3] });
    const x = rand(48, 1);
    const m = rand(3, 2);
    const v = rand(3, 3, 0.1, 1);
    for (let i = 0; i < 48; i++) {
      assert.ok(Math.abs(out[i] - (x[i] - m[i % 3]) / Math.sqrt(v[i % 3] + 1e-3)) < 1e-5);
    }
  });
  test("through tfjs: a depthwise filter whose inC isn't x's throws tfjs's Error, and the backend goes on", async () => {
    await tf.setBackend('torch');
    assert.throws(
      () =>
        tf.depthwiseConv2d(
          randTensor([1, 6, 6, 4], 1) as tf.Tensor4D,
          randTensor([3, 3, 3, 1], 2) as tf.Tensor4D,
          1,
          'same',
        ),
      /number of input channels/,
    );
    const y = tf.depthwiseConv2d(
      randTensor([1, 6, 6, 4], 1) as tf.Tensor4D,
      randTensor([3, 3, 4, 1], 2) as tf.Tensor4D,
      1,
      'same',
    );
    assert.deepEqual(y.shape, [1, 6, 6, 4]);
    y.dispose();
  });
});

describe("tfjs-layers' BatchNormalization in training", () => {
  /** conv → BN → depthwise conv → BN → GAP → dense → BN (rank 2) → softmax: both BN ranks, seeded initializers. */
  function build(): tfl.LayersModel {
    const input = tfl.input({ shape: [10, 10, 2] });
    const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
    let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, useBias: false, kernelInitializer: init(1) }).apply(input);
    x = tfl.layers.batchNormalization({ axis: -1 }).apply(x);
    x = tfl.layers.reLU().apply(x);
    x = tfl.layers.zeroPadding2d({ padding: 1 }).apply(x);
    x = tfl.layers
      .depthwiseConv2d({ kernelSize: 3, strides: 2, useBias: false, depthwiseInitializer: init(2) })
      .apply(x);
    x = tfl.layers.batchNormalization({ axis: -1 }).apply(x);
    x = tfl.layers.globalAveragePooling2d({}).apply(x);
    x = tfl.layers.dense({ units: 16, useBias: false, kernelInitializer: init(3) }).apply(x);
    x = tfl.layers.batchNormalization({ axis: -1 }).apply(x);
    const out = tfl.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(4) }).apply(x);
    return tfl.model({ inputs: input, outputs: out as tfl.SymbolicTensor });
  }

  async function train(backend: string) {
    await tf.setBackend(backend);
    return withSeededMathRandom(3, async () => {
      const model = build();
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
      const xs = randTensor([16, 10, 10, 2], 1, 0, 1);
      const ys = tf.oneHot(randInt([16], 2, 0, 4) as tf.Tensor1D, 4);
      resetKernelStats();
      for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
      const stats = kernelStats();
      const weights = model.weights.map((w) => {
        const t = w.read();
        return { name: w.originalName, shape: t.shape, dtype: t.dtype, values: t.dataSync() as Float32Array };
      });
      tf.dispose([xs, ys]);
      model.dispose();
      return { weights, stats };
    });
  }

  test('moving mean and variance (momentum 0.99, epsilon 1e-3) and every weight match cpu after 3 trainOnBatch steps', async () => {
    const cpu = await train('cpu');
    const torch = await train('torch');
    for (const k of [
      'FusedBatchNorm',
      'DepthwiseConv2dNative',
      'DepthwiseConv2dNativeBackpropFilter',
      'PadV2',
      'Slice',
    ]) {
      assert.ok((torch.stats.native[k] ?? 0) > 0, `${k} did not run natively: ${JSON.stringify(torch.stats)}`);
    }
    const names = cpu.weights.map((w) => w.name);
    assert.equal(names.filter((n) => /moving_mean/.test(n)).length, 3);
    assert.equal(names.filter((n) => /moving_variance/.test(n)).length, 3);
    torch.weights.forEach((w, i) => {
      assert.equal(w.name.replace(/\d+/g, ''), cpu.weights[i].name.replace(/\d+/g, '')); // layer names count up
      assertClose(w, cpu.weights[i], { rtol: 1e-4, atol: 1e-5 }, w.name);
    });
    // the moving statistics moved away from their initial zeros / ones
    const mm = cpu.weights.find((w) => /moving_mean/.test(w.name))!;
    assert.ok(
      mm.values.some((v) => Math.abs(v) > 1e-4),
      'moving mean updated',
    );
  });
});
