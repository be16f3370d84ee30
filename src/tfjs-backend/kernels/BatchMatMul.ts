import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { TensorInfo, BatchMatMulAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';
import { matMulShape } from '../matmul_utils.js';

/** Dense layers and their gradients; transposes are strided views on the native side, not copies. */
export const batchMatMulConfig: KernelConfig = torchKernel<{ a: TensorInfo; b: TensorInfo }, BatchMatMulAttrs>(
  BatchMatMul,
  ({ inputs: { a, b }, backend, attrs: { transposeA, transposeB } }) => {
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const shape = matMulShape(a, b, transposeA, transposeB);
    const v = shape && allValues(backend, [a, b]);
    if (!shape || !v) return null;
    return nativeOutput(backend, shape, 'float32', (out) =>
      kernels().BatchMatMul(out, { a: v[0], aShape: a.shape, b: v[1], bShape: b.shape, transposeA, transposeB }),
    );
  },
);
