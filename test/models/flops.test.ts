// countFlops (src/models/flops.ts): the seed models against numbers worked out by hand from their layer shapes,
// the depthwise and separable formulas on a small functional model, and every registry model counted in full.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tfl from '@tensorflow/tfjs-layers';
import { MODELS, countFlops, getModel } from '../../src/models/index.js';
import { useTorchBackend } from '../../src/tfjs-backend/index.js';

/** [className, matmul, elementwise] per layer, in order. */
const table = (m: tfl.LayersModel) => countFlops(m).layers.map((l) => [l.className, l.matmul, l.elementwise]);

describe('countFlops', () => {
  before(async () => {
    await useTorchBackend();
  });

  test('dense 784-128-64-10: 218,368 forward multiply-add FLOPs per image', () => {
    const model = getModel('dense').keras(tfl);
    // Dense(784 -> 128): 2 · 784 · 128 = 200,704; bias + ReLU on 128 outputs = 256
    // Dense(128 -> 64):  2 · 128 · 64  =  16,384; bias + ReLU on 64 = 128
    // Dense(64 -> 10):   2 · 64 · 10   =   1,280; bias (10) + softmax (3 · 10) = 40
    // Flatten and the two Dropouts: nothing.
    assert.deepEqual(table(model), [
      ['Flatten', 0, 0],
      ['Dense', 200704, 256],
      ['Dropout', 0, 0],
      ['Dense', 16384, 128],
      ['Dropout', 0, 0],
      ['Dense', 1280, 40],
    ]);
    const f = countFlops(model);
    assert.equal(f.forwardMatmul, 218368); // 200,704 + 16,384 + 1,280
    assert.equal(f.forwardElementwise, 424); // 256 + 128 + 40
    assert.equal(f.training, 3 * 218368); // 655,104 per image per training step
    assert.deepEqual(f.unknown, []);
    model.dispose();
  });

  test('the seed CNN: 5,262,080 forward multiply-add FLOPs per image', () => {
    const model = getModel('cnn').keras(tfl);
    // Conv2D(1 -> 32, 3x3) on 28x28 -> 26x26x32: 2 · 26·26 · 3·3 · 1 · 32 = 389,376;
    //   bias + ReLU on 26·26·32 = 21,632 outputs: 43,264
    // MaxPool 2x2 -> 13x13x32 = 5,408 outputs, 4 compares each: 21,632
    // Conv2D(32 -> 64, 3x3) on 13x13 -> 11x11x64: 2 · 11·11 · 3·3 · 32 · 64 = 4,460,544;
    //   bias + ReLU on 11·11·64 = 7,744 outputs: 15,488
    // MaxPool 2x2 -> 5x5x64 = 1,600 outputs: 6,400
    // Dense(1600 -> 128): 2 · 1600 · 128 = 409,600; bias + ReLU: 256
    // Dense(128 -> 10):   2 · 128 · 10   =   2,560; bias + softmax: 40
    assert.deepEqual(table(model), [
      ['Conv2D', 389376, 43264],
      ['MaxPooling2D', 0, 21632],
      ['Conv2D', 4460544, 15488],
      ['MaxPooling2D', 0, 6400],
      ['Flatten', 0, 0],
      ['Dense', 409600, 256],
      ['Dropout', 0, 0],
      ['Dense', 2560, 40],
    ]);
    const f = countFlops(model);
    assert.equal(f.forwardMatmul, 5262080); // 389,376 + 4,460,544 + 409,600 + 2,560
    assert.equal(f.forwardElementwise, 87080);
    // A training step ≈ 3x: 15.79 MFLOP per image, 0.947 TFLOP per 60,000-image epoch.
    assert.equal(f.training, 15786240);
    assert.equal(
      countFlops(model).layers.reduce((s, l) => s + l.params, 0),
      225034,
    );
    model.dispose();
  });

  test('depthwise, separable, batch norm, add and global pooling in a functional model', () => {
    const x = tfl.input({ shape: [8, 8, 3] });
    const sep = tfl.layers
      .separableConv2d({ filters: 4, kernelSize: 3, padding: 'same', depthMultiplier: 2 })
      .apply(x) as tfl.SymbolicTensor;
    const dw = tfl.layers.depthwiseConv2d({ kernelSize: 3, useBias: false }).apply(sep) as tfl.SymbolicTensor;
    const bn = tfl.layers.batchNormalization().apply(dw) as tfl.SymbolicTensor;
    const sum = tfl.layers.add().apply([bn, dw]) as tfl.SymbolicTensor;
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(sum) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2 }).apply(pooled) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: out });
    // SeparableConv2D, 8x8 out: depthwise 2 · 64 · 3·3 · 3 · 2 = 6,912 + pointwise 2 · 64 · 6 · 4 = 3,072; bias 256
    // DepthwiseConv2D 3x3 valid, multiplier 1, 8x8x4 -> 6x6x4: 2 · 36 · 3·3 · 4 · 1 = 2,592; no bias
    // BatchNormalization on 144 values: 2 each; Add of two: 144; global average over 144 inputs: 144
    // Dense(4 -> 2): 2 · 4 · 2 = 16; bias 2
    assert.deepEqual(table(model), [
      ['InputLayer', 0, 0],
      ['SeparableConv2D', 9984, 256],
      ['DepthwiseConv2D', 2592, 0],
      ['BatchNormalization', 0, 288],
      ['Add', 0, 144],
      ['GlobalAveragePooling2D', 0, 144],
      ['Dense', 16, 2],
    ]);
    model.dispose();
  });

  for (const spec of MODELS) {
    test(`${spec.id}: every layer is known, the counts are positive and finite, and the weights add up`, () => {
      const model = spec.keras(tfl);
      const f = countFlops(model);
      assert.deepEqual(f.unknown, [], `${spec.id}: layers countFlops does not know`);
      assert.ok(Number.isFinite(f.forwardMatmul) && f.forwardMatmul > 0, `${spec.id}: forwardMatmul`);
      assert.ok(Number.isFinite(f.forwardElementwise) && f.forwardElementwise >= 0, `${spec.id}: elementwise`);
      assert.equal(f.training, 3 * f.forwardMatmul);
      for (const l of f.layers)
        assert.ok(l.matmul >= 0 && l.elementwise >= 0 && Number.isFinite(l.matmul + l.elementwise), l.name);
      assert.equal(
        f.layers.reduce((s, l) => s + l.params, 0),
        model.countParams(),
        `${spec.id}: the table's weights`,
      );
      model.dispose();
    });
  }
});
