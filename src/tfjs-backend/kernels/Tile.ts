import { Tile } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo, TileAttrs } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

export const tileConfig: KernelConfig = torchKernel<{ x: TensorInfo }, TileAttrs>(
  Tile,
  ({ inputs: { x }, backend, attrs: { reps } }) => {
    if (x.dtype === 'string' || x.dtype === 'complex64' || reps.length !== x.shape.length) return null;
    const shape = x.shape.map((s, i) => s * reps[i]);
    if (isSmall(shape)) return null;
    const xv = values(backend, x);
    return xv && nativeOutput(backend, shape, x.dtype, (out) => kernels().Tile(out, { x: xv, xShape: x.shape, reps }));
  },
);
