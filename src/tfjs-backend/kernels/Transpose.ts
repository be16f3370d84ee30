import { Transpose } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo, TransposeAttrs } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

export const transposeConfig: KernelConfig = torchKernel<{ x: TensorInfo }, TransposeAttrs>(
  Transpose,
  ({ inputs: { x }, backend, attrs: { perm } }) => {
    if (x.dtype === 'string' || x.dtype === 'complex64' || isSmall(x.shape) || perm.length !== x.shape.length) {
      return null;
    }
    const xv = values(backend, x);
    const shape = perm.map((p) => x.shape[p]);
    return (
      xv && nativeOutput(backend, shape, x.dtype, (out) => kernels().Transpose(out, { x: xv, xShape: x.shape, perm }))
    );
  },
);
