import { GatherV2, util } from '@tensorflow/tfjs-core';
import type { GatherV2Attrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { anyValues, isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

/**
 * tf.gather along one axis (batchDims 0): how Layers' fit() picks each shuffled batch out of the training set. An
 * index out of range goes to the cpu kernel, which throws tfjs's own error.
 */
export const gatherV2Config: KernelConfig = torchKernel<{ x: TensorInfo; indices: TensorInfo }, GatherV2Attrs>(
  GatherV2,
  ({ inputs: { x, indices }, backend, attrs: { axis, batchDims } }) => {
    if ((batchDims ?? 0) !== 0 || indices.dtype !== 'int32' || x.dtype === 'string' || x.dtype === 'complex64') {
      return null;
    }
    const [parsedAxis] = util.parseAxisParam(axis, x.shape);
    const shape = [...x.shape.slice(0, parsedAxis), ...indices.shape, ...x.shape.slice(parsedAxis + 1)];
    if (isSmall(shape)) return null;
    const xv = anyValues(backend, x); // y from oneHot is int32 in a Float32Array
    const iv = values(backend, indices) as Int32Array | null;
    if (!xv || !iv) return null;
    const dim = x.shape[parsedAxis];
    for (let i = 0; i < iv.length; i++) if (!(iv[i] >= 0 && iv[i] < dim)) return null;
    return nativeOutput(backend, shape, x.dtype, (out) =>
      kernels().GatherV2(out, { x: xv, xShape: x.shape, indices: iv, axis: parsedAxis }),
    );
  },
);
