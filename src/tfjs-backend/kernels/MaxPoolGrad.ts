import { MaxPoolGrad, util } from '@tensorflow/tfjs-core';
import type { TensorInfo, KernelConfig, MaxPoolGradAttrs } from '@tensorflow/tfjs-core';
import { allValues, convPlan, kernels, nativeOutput, pool2DInfo, torchKernel } from '../kernel_utils.js';

/**
 * Routes dy to the first maximum of each window (row-major), as tfjs's cpu kernel does, so ties (the zeros after a
 * relu) get the same gradient. The pooling is recomputed natively for the indices; tfjs's `output` input is unused.
 */
export const maxPoolGradConfig: KernelConfig = torchKernel<{ dy: TensorInfo; input: TensorInfo }, MaxPoolGradAttrs>(
  MaxPoolGrad,
  ({ inputs: { dy, input }, backend, attrs }) => {
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') return null;
    const info = pool2DInfo(input.shape, attrs);
    const plan = convPlan(info);
    const v = plan && util.arraysEqual(dy.shape, info.outShape) && allValues(backend, [dy, input]);
    if (!plan || !v) return null;
    const size = [info.filterHeight, info.filterWidth];
    return nativeOutput(backend, input.shape, 'float32', (out) =>
      kernels().MaxPoolGrad(out, {
        dy: v[0],
        dyShape: dy.shape,
        x: v[1],
        xShape: input.shape,
        filterSize: size,
        ...plan,
      }),
    );
  },
);
