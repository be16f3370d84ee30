// The output shape of tfjs's (batched) matrix product, or null when the shapes don't fit (the cpu kernel then throws
// tfjs's own error).
import { backend_util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

export function matMulShape(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): number[] | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const innerA = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const innerB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  if (innerA !== innerB) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  try {
    const batch = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const shape = [...batch, m, n];
    return innerA > 0 && shape.every((d) => d > 0) ? shape : null; // empty products: the cpu kernel
  } catch {
    return null;
  }
}
