// The fused BatchNorm training step (BatchNormTraining, its registered gradient BatchNormTrainingGrad, and the drop-in
// BatchNormalization layer) against its references: tf.moments + tf.batchNorm on tfjs-cpu and their gradients, central differences, and
// tfjs-layers' stock layer trained on tfjs-cpu from the same seeded weights.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tfl from '@tensorflow/tfjs-layers';
import { native } from '../../src/native/binding.js';
import { withSeededMathRandom } from '../../src/engines/keras-seed.js';
import { BatchNormalization, kernelStats, resetKernelStats, torchLayersApi } from '../../src/tfjs-backend/index.js';
import { assertClose, rand, randInt, randTensor, tf } from './helpers.js';

const SHAPES = [
  [4, 6, 6, 8],
  [1, 5, 7, 3],
  [40, 16],
  [6, 9, 12],
];

/** The stock training path, as tfjs-layers composes it: y, mean and variance. */
function stockForward(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return [tf.batchNorm(x, mean, variance, beta, gamma, eps), mean, variance];
}

function fusedForward(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor[] {
  return tf
    .engine()
    .runKernel('BatchNormTraining', { x, scale: gamma, offset: beta }, { varianceEpsilon: eps }) as tf.Tensor[];
}

const read = (t: tf.Tensor) => ({ shape: t.shape, dtype: t.dtype, values: t.dataSync() as Float32Array });

async function on<T>(backend: string, fn: () => T): Promise<T> {
  await tf.setBackend(backend);
  return fn();
}

describe('BatchNormTraining and its gradient, against tf.moments + tf.batchNorm on tfjs-cpu', () => {
  for (const shape of SHAPES) {
    const c = shape[shape.length - 1]!;
    const inputs = () => [randTensor(shape, 1, -3, 5), randTensor([c], 2, 0.5, 2), randTensor([c], 3)];
    const w = () => randTensor(shape, 4);

    test(`forward ${JSON.stringify(shape)}: y, mean, biased variance`, async () => {
      const expected = await on('cpu', () =>
        tf.tidy(() => stockForward(...(inputs() as [tf.Tensor, tf.Tensor, tf.Tensor]), 1e-5).map(read)),
      );
      resetKernelStats();
      const actual = await on('torch', () =>
        tf.tidy(() => fusedForward(...(inputs() as [tf.Tensor, tf.Tensor, tf.Tensor]), 1e-5).map(read)),
      );
      assert.equal(kernelStats().native['BatchNormTraining'], 1);
      actual.forEach((a, i) => assertClose(a, expected[i]!, { rtol: 1e-5, atol: 2e-5 }, `output ${i}`));
    });

    test(`gradients ${JSON.stringify(shape)}: dx, dgamma, dbeta of sum(y * w)`, async () => {
      const stock = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(stockForward(x, g, b, 1e-3)[0]!, w()));
      const expected = await on('cpu', () => tf.tidy(() => tf.grads(stock)(inputs()).map(read)));
      const fused = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => fusedForward(x, g, b, 1e-3)[0]!; // its registered gradient
      resetKernelStats();
      const actual = await on('torch', () =>
        tf.tidy(() =>
          tf
            .grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fused(x, g, b), w())))(inputs())
            .map(read),
        ),
      );
      assert.equal(kernelStats().native['BatchNormTrainingGrad'], 1);
      actual.forEach((a, i) => assertClose(a, expected[i]!, { rtol: 1e-4, atol: 1e-4 }, ['dx', 'dgamma', 'dbeta'][i]));
    });
  }

  test('the gradient kernel against central differences (float64 on the JS side)', async () => {
    await tf.setBackend('torch');
    const shape = [3, 4, 4, 2];
    const n = 96;
    const x = rand(n, 7, -2, 2);
    const gamma = Float32Array.from([1.5, 0.7]);
    const beta = Float32Array.from([0.2, -0.1]);
    const wv = rand(n, 8);
    // loss(x) = sum(BN(x) * w), computed in double from the definition
    const loss = (xs: Float64Array) => {
      let total = 0;
      for (let ch = 0; ch < 2; ch++) {
        let mean = 0;
        for (let i = ch; i < n; i += 2) mean += xs[i]!;
        mean /= n / 2;
        let v = 0;
        for (let i = ch; i < n; i += 2) v += (xs[i]! - mean) ** 2;
        v /= n / 2;
        for (let i = ch; i < n; i += 2)
          total += ((xs[i]! - mean) / Math.sqrt(v + 1e-5)) * gamma[ch]! * wv[i]! + beta[ch]! * wv[i]!;
      }
      return total;
    };
    const [dx] = tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const [, mean, variance] = fusedForward(xt, tf.tensor(gamma), tf.tensor(beta), 1e-5);
      const grads = tf
        .engine()
        .runKernel(
          'BatchNormTrainingGrad',
          { dy: tf.tensor(wv, shape), x: xt, mean: mean!, variance: variance!, scale: tf.tensor(gamma) },
          { varianceEpsilon: 1e-5 },
        ) as tf.Tensor[];
      return grads.map((g) => g.dataSync() as Float32Array);
    });
    const h = 1e-4;
    for (const i of [0, 5, 17, 42, 95]) {
      const up = Float64Array.from(x);
      const down = Float64Array.from(x);
      up[i]! += h;
      down[i]! -= h;
      const fd = (loss(up) - loss(down)) / (2 * h);
      assert.ok(
        Math.abs(dx![i]! - fd) < 1e-3 * (1 + Math.abs(fd)),
        `dx[${i}]: kernel ${dx![i]} vs central difference ${fd}`,
      );
    }
  });

  test('bad calls are JS errors that name the kernel and the field', () => {
    const k = native.tfjs;
    const x = new Float32Array(24);
    const c3 = () => new Float32Array(3);
    assert.throws(
      () =>
        k.BatchNormTraining(new Float32Array(24), {
          x,
          xShape: [2, 3, 4],
          scale: c3(),
          offset: c3(),
          varianceEpsilon: 1e-5,
          meanOut: c3(),
          varianceOut: c3(),
        }),
      /BatchNormTraining: .*4 channels/,
    );
    assert.throws(
      () =>
        k.BatchNormTraining(new Float32Array(24), {
          x,
          xShape: [2, 3, 4],
          scale: new Float32Array(4),
          offset: new Float32Array(4),
          varianceEpsilon: 1e-5,
          meanOut: c3(),
          varianceOut: new Float32Array(4),
        }),
      /BatchNormTraining: attrs.meanOut has 3 values for 4 channels/,
    );
    assert.throws(
      () =>
        k.BatchNormTrainingGrad(new Float32Array(24), {
          dy: new Float32Array(20),
          x,
          xShape: [6, 4],
          mean: new Float32Array(4),
          variance: new Float32Array(4),
          scale: new Float32Array(4),
          varianceEpsilon: 1e-5,
          dScaleOut: new Float32Array(4),
          dOffsetOut: new Float32Array(4),
        }),
      /BatchNormTrainingGrad: attrs.dy has 20 values/,
    );
    assert.throws(
      () => tf.tidy(() => fusedForward(tf.zeros([2, 3], 'int32'), tf.ones([3]), tf.zeros([3]), 1e-5)),
      /BatchNormTraining: float32 tensors only \(x is int32\)/,
    );
  });
});

describe('BatchNormalization (the drop-in layer) against the stock layer on tfjs-cpu', () => {
  /** conv → BN → ReLU → GAP-free dense → BN (rank 2) → softmax, from seeded initializers: both BN ranks. */
  function build(api: typeof tfl): tfl.LayersModel {
    const input = tfl.input({ shape: [8, 8, 2] });
    const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
    let x = api.layers.conv2d({ filters: 6, kernelSize: 3, useBias: false, kernelInitializer: init(1) }).apply(input);
    x = api.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }).apply(x);
    x = api.layers.reLU().apply(x);
    x = api.layers.flatten().apply(x);
    x = api.layers.dense({ units: 12, useBias: false, kernelInitializer: init(2) }).apply(x);
    x = api.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x);
    const out = api.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(3) }).apply(x);
    return tfl.model({ inputs: input, outputs: out as tfl.SymbolicTensor });
  }

  async function train(backend: string, api: typeof tfl) {
    await tf.setBackend(backend);
    return withSeededMathRandom(3, async () => {
      const model = build(api);
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
      const xs = randTensor([16, 8, 8, 2], 1, 0, 1);
      const ys = tf.oneHot(randInt([16], 2, 0, 4) as tf.Tensor1D, 4);
      resetKernelStats();
      for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
      const stats = kernelStats();
      const weights = model.weights.map((w) => ({ name: w.originalName, ...read(w.read()) }));
      const json = model.toJSON(null, false) as { config: { layers: { class_name: string }[] } };
      tf.dispose([xs, ys]);
      model.dispose();
      return { weights, stats, classes: json.config.layers.map((l) => l.class_name) };
    });
  }

  test('every weight and moving statistic matches the stock layer on cpu after 3 Adam steps', async () => {
    const cpu = await train('cpu', tfl);
    const torch = await train('torch', torchLayersApi);
    assert.equal(torch.stats.native['BatchNormTraining'], 6, JSON.stringify(torch.stats)); // 2 layers x 3 steps
    assert.equal(torch.stats.native['BatchNormTrainingGrad'], 6);
    assert.ok(!torch.stats.native['FusedBatchNorm'], 'the stock path ran in training');
    assert.equal(cpu.weights.length, torch.weights.length);
    torch.weights.forEach((w, i) => assertClose(w, cpu.weights[i]!, { rtol: 1e-4, atol: 1e-5 }, w.name));
    const mv = cpu.weights.find((w) => /moving_variance/.test(w.name))!;
    assert.ok(
      mv.values.some((v) => Math.abs(v - 1) > 1e-3),
      'the moving variance moved',
    );
    assert.deepEqual(torch.classes, cpu.classes, 'model.json names the stock classes');
  });

  test('tfjs builds it from model.json, and inference and other layouts run the stock code', async () => {
    await tf.setBackend('torch');
    const model = await withSeededMathRandom(5, () => build(tfl)); // stock layers
    const loaded = await tfl.models.modelFromJSON(model.toJSON(null, false) as never);
    const bns = loaded.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    assert.equal(bns.length, 2);
    for (const l of bns) assert.ok(l instanceof BatchNormalization, 'deserialized as the drop-in');
    resetKernelStats();
    tf.tidy(() => loaded.predict(randTensor([4, 8, 8, 2], 6, 0, 1)));
    assert.ok(!kernelStats().native['BatchNormTraining'], 'inference used the moving statistics');
    // axis 1 of NHWC (not the last): the stock path, which reduces over the other axes
    const byRows = new BatchNormalization({ axis: 1 }) as unknown as tfl.layers.Layer;
    resetKernelStats();
    const y = tf.tidy(() => (byRows.apply(randTensor([5, 3, 4], 7), { training: true }) as tf.Tensor).dataSync());
    assert.equal(y.length, 60);
    assert.ok(!kernelStats().native['BatchNormTraining']);
    model.dispose();
    loaded.dispose();
  });
});
