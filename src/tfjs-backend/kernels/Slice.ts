import { Slice, slice_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, SliceAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

/**
 * Slices that are not one contiguous run of x (a contiguous one stays on the cpu kernel, which shares x's data): the
 * gradient of tf.pad crops every spatial axis, which the cpu kernel does one element at a time through
 * TensorBuffer.get (0.2 s for [8, 30, 30, 32]).
 */
export const sliceConfig: KernelConfig = torchKernel<{ x: TensorInfo }, SliceAttrs>(
  Slice,
  ({ inputs: { x }, backend, attrs }) => {
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return null;
    const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    const inRange = begin.every((b, i) => b >= 0 && size[i] >= 0 && b + size[i] <= x.shape[i]);
    // out of range: the cpu kernel throws tfjs's error
    if (!inRange || isSmall(size) || slice_util.isSliceContinous(x.shape, begin, size)) return null;
    const xv = values(backend, x);
    return (
      xv && nativeOutput(backend, size, x.dtype, (out) => kernels().Slice(out, { x: xv, xShape: x.shape, begin, size }))
    );
  },
);
