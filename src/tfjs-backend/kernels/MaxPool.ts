import { MaxPool, util } from '@tensorflow/tfjs-core';
import type { TensorInfo, KernelConfig, MaxPoolAttrs } from '@tensorflow/tfjs-core';
import { convPlan, kernels, nativeOutput, pool2DInfo, torchKernel, values } from '../kernel_utils.js';

export const maxPoolConfig: KernelConfig = torchKernel<{ x: TensorInfo }, MaxPoolAttrs>(
  MaxPool,
  ({ inputs: { x }, backend, attrs }) => {
    if (x.dtype !== 'float32') return null;
    const info = pool2DInfo(x.shape, attrs);
    // tfjs's cpu kernel takes a 1x1 pool whose output has the input's shape for the identity, whatever its strides and
    // pads (tf.pool's specs rely on it: windows wholly in the padding give the input's values there, not -Infinity).
    // A rare call, and the cpu kernel's identity shares the data instead of copying it.
    if (info.filterHeight === 1 && info.filterWidth === 1 && util.arraysEqual(info.inShape, info.outShape)) return null;
    const plan = convPlan(info);
    const xv = plan && values(backend, x);
    if (!plan || !xv) return null;
    const size = [info.filterHeight, info.filterWidth];
    return nativeOutput(backend, info.outShape, 'float32', (out) =>
      kernels().MaxPool(out, { x: xv, xShape: x.shape, filterSize: size, ...plan }),
    );
  },
);
