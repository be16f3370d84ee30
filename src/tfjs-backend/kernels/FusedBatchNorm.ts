import { FusedBatchNorm, util } from '@tensorflow/tfjs-core';
import type { FusedBatchNormAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { allValues, isSmall, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';

interface Inputs {
  x: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
  offset?: TensorInfo | null;
  scale?: TensorInfo | null;
}

/**
 * The cpu kernel reads parameter values cyclically (element i of x takes p[i % p.length]), which is broadcasting a
 * parameter whose length is the product of a suffix of x's shape over the axes before it: that suffix is its shape
 * here. Null for any other length (the cpu kernel's cycling then crosses rows: rare, left to it).
 */
function suffixShape(xShape: number[], length: number): number[] | null {
  for (let k = xShape.length; k >= 0; k--) {
    const suffix = xShape.slice(k);
    const n = util.sizeFromShape(suffix);
    if (n === length) return suffix;
    if (n > length) return null;
  }
  return null;
}

/**
 * tf.batchNorm (tfjs-layers' BatchNormalization, in training and inference): offset + (x - mean) * scale /
 * sqrt(variance + varianceEpsilon) in one pass over x. tf.batchNorm hands every x over as rank 4 (a rank-2 x as
 * [1, 1, n, c]); the parameters are rank 1 over the channels, or shapes that broadcast the same way.
 */
export const fusedBatchNormConfig: KernelConfig = torchKernel<Inputs, FusedBatchNormAttrs>(
  FusedBatchNorm,
  ({ inputs: { x, mean, variance, offset, scale }, backend, attrs }) => {
    const params = [mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : [])];
    if (isSmall(x.shape) || [x, ...params].some((t) => t.dtype !== 'float32')) return null;
    if (params.some((p) => p.shape.length !== mean.shape.length)) return null; // the cpu kernel's assertion
    const shapes = params.map((p) => suffixShape(x.shape, util.sizeFromShape(p.shape)));
    const v = allValues(backend, [x, ...params]);
    if (!v || shapes.some((s) => s === null)) return null;
    const [meanShape, varianceShape, offsetShape, scaleShape] = [
      shapes[0],
      shapes[1],
      offset ? shapes[2] : null,
      scale ? shapes[offset ? 3 : 2] : null,
    ];
    return nativeOutput(backend, x.shape, 'float32', (out) =>
      kernels().FusedBatchNorm(out, {
        x: v[0],
        xShape: x.shape,
        mean: v[1],
        meanShape: meanShape!,
        variance: v[2],
        varianceShape: varianceShape!,
        offset: offset ? v[3] : null,
        offsetShape,
        scale: scale ? v[offset ? 4 : 3] : null,
        scaleShape,
        varianceEpsilon: attrs.varianceEpsilon ?? 0.001,
      }),
    );
  },
);
