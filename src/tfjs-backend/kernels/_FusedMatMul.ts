import { _FusedMatMul, backend_util } from '@tensorflow/tfjs-core';
import type { TensorInfo, _FusedMatMulAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, kernels, NATIVE_ACTIVATIONS, nativeOutput, torchKernel } from '../kernel_utils.js';
import { matMulShape } from '../matmul_utils.js';

/** matMul + bias + activation: a Dense layer's forward pass in one native call. */
export const _fusedMatMulConfig: KernelConfig = torchKernel<
  { a: TensorInfo; b: TensorInfo; bias?: TensorInfo },
  _FusedMatMulAttrs
>(_FusedMatMul, ({ inputs: { a, b, bias }, backend, attrs }) => {
  const { transposeA, transposeB, activation, leakyreluAlpha } = attrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !NATIVE_ACTIVATIONS.has(activation)) return null;
  if (bias && bias.dtype !== 'float32') return null;
  const mm = matMulShape(a, b, transposeA, transposeB);
  const v = mm && allValues(backend, bias ? [a, b, bias] : [a, b]);
  if (!mm || !v) return null;
  const shape = bias ? backend_util.assertAndGetBroadcastShape(mm, bias.shape) : mm;
  return nativeOutput(backend, shape, 'float32', (out) =>
    kernels()._FusedMatMul(out, {
      a: v[0],
      aShape: a.shape,
      b: v[1],
      bShape: b.shape,
      transposeA,
      transposeB,
      bias: bias ? v[2] : null,
      biasShape: bias ? bias.shape : null,
      activation,
      leakyreluAlpha: leakyreluAlpha ?? 0.2,
    }),
  );
});
