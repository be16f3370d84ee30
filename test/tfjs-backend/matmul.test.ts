import { describe, test } from 'node:test';
import { compareBackends, randTensor, tf } from './helpers.js';

const TOL = { rtol: 1e-4, atol: 1e-4 };

describe('BatchMatMul', () => {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    test(`transposeA ${ta}, transposeB ${tb}: small (at::mm) and Dense-sized (oneDNN)`, () =>
      compareBackends(
        () => {
          const small = tf.matMul(randTensor(ta ? [7, 5] : [5, 7], 1), randTensor(tb ? [3, 7] : [7, 3], 2), ta, tb);
          const big = tf.matMul(
            randTensor(ta ? [400, 64] : [64, 400], 3, -0.5, 0.5),
            randTensor(tb ? [96, 400] : [400, 96], 4, -0.5, 0.5),
            ta,
            tb,
          );
          return [small, big];
        },
        { ...TOL, native: ['BatchMatMul'] },
      ));
  }
  test('batched, with broadcasting of the batch dimensions', () =>
    compareBackends(
      () => [
        tf.matMul(randTensor([3, 4, 5], 1), randTensor([3, 5, 2], 2)),
        tf.matMul(randTensor([1, 4, 5], 1), randTensor([3, 5, 6], 2)),
        tf.matMul(randTensor([2, 3, 4, 5], 1), randTensor([5, 6], 2)),
        tf.matMul(randTensor([2, 5, 4], 3), randTensor([2, 6, 5], 4), true, true),
      ],
      { ...TOL, native: ['BatchMatMul'] },
    ));
  test('a Dense layer forward and backward (gradients of both inputs)', () =>
    compareBackends(
      () => {
        const x = randTensor([64, 1600], 1, 0, 1);
        const w = randTensor([1600, 128], 2, -0.05, 0.05);
        const dy = randTensor([64, 128], 3);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b), dy)))([x, w]);
        return [tf.matMul(x, w), dx, dw];
      },
      { ...TOL, native: ['BatchMatMul'] },
    ));
});

describe('_FusedMatMul', () => {
  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
    test(`bias + ${activation}`, () =>
      compareBackends(
        () => [
          tf.fused.matMul({
            a: randTensor([64, 300], 1),
            b: randTensor([300, 40], 2),
            bias: randTensor([40], 3),
            activation,
            leakyreluAlpha: 0.1,
          }),
          tf.fused.matMul({
            a: randTensor([5, 6], 1),
            b: randTensor([4, 6], 2),
            transposeB: true,
            bias: randTensor([4], 3),
            activation,
          }),
        ],
        { ...TOL, native: ['_FusedMatMul'] },
      ));
  }
  test('no bias, a full-shape bias, and prelu (cpu)', async () => {
    await compareBackends(
      () => [
        tf.fused.matMul({ a: randTensor([64, 300], 1), b: randTensor([300, 40], 2), transposeA: false }),
        tf.fused.matMul({
          a: randTensor([30, 64], 1),
          b: randTensor([30, 40], 2),
          transposeA: true,
          bias: randTensor([64, 40], 3),
        }),
      ],
      { ...TOL, native: ['_FusedMatMul'] },
    );
    await compareBackends(
      () =>
        tf.fused.matMul({
          a: randTensor([8, 6], 1),
          b: randTensor([6, 4], 2),
          bias: randTensor([4], 3),
          activation: 'prelu',
          preluActivationWeights: randTensor([4], 4),
        }),
      { ...TOL, fallback: ['_FusedMatMul'] },
    );
  });
});
