import { Cast } from '@tensorflow/tfjs-core';
import type { CastAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

const NATIVE = new Set(['float32', 'int32', 'bool']);

/** Between float32, int32 and bool (float -> int truncates, like Int32Array.from). A cast to the same dtype stays on
 * the cpu kernel, which shares the data instead of copying it. */
export const castConfig: KernelConfig = torchKernel<{ x: TensorInfo }, CastAttrs>(
  Cast,
  ({ inputs: { x }, backend, attrs: { dtype } }) => {
    if (x.dtype === dtype || !NATIVE.has(x.dtype) || !NATIVE.has(dtype) || isSmall(x.shape)) return null;
    const xv = values(backend, x);
    return xv && nativeOutput(backend, x.shape, dtype, (out) => kernels().Cast(out, xv));
  },
);
