import { Select, util } from '@tensorflow/tfjs-core';
import type { TensorInfo, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, isSmall, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';

/** where(condition, t, e) for same-shape inputs: what tf.where sends (it broadcasts the condition itself). The cpu
 * kernel's legacy forms (a rank-0 or rank-1 condition picking whole rows) stay on the cpu kernel. */
export const selectConfig: KernelConfig = torchKernel<{ condition: TensorInfo; t: TensorInfo; e: TensorInfo }, object>(
  Select,
  ({ inputs: { condition, t, e }, backend }) => {
    if (condition.dtype !== 'bool' || t.dtype !== e.dtype || (t.dtype !== 'float32' && t.dtype !== 'int32'))
      return null;
    if (!util.arraysEqual(t.shape, e.shape) || !util.arraysEqual(condition.shape, t.shape) || isSmall(t.shape)) {
      return null;
    }
    const v = allValues(backend, [condition, t, e]);
    return (
      v &&
      nativeOutput(backend, t.shape, t.dtype, (out) => kernels().Select(out, { condition: v[0], t: v[1], e: v[2] }))
    );
  },
);
