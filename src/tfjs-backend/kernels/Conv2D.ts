import { Conv2D } from '@tensorflow/tfjs-core';
import type { TensorInfo, Conv2DAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, conv2DInfo, convPlan, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';

/** NHWC (or NCHW) input, HWIO filter; libtorch sees the NHWC input as a channels_last NCHW view (no copy). */
export const conv2DConfig: KernelConfig = torchKernel<{ x: TensorInfo; filter: TensorInfo }, Conv2DAttrs>(
  Conv2D,
  ({ inputs: { x, filter }, backend, attrs }) => {
    if (x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
    const info = conv2DInfo(x.shape, filter.shape, attrs);
    const plan = convPlan(info);
    const v = plan && allValues(backend, [x, filter]);
    if (!plan || !v) return null;
    return nativeOutput(backend, info.outShape, 'float32', (out) =>
      kernels().Conv2D(out, { x: v[0], xShape: x.shape, filter: v[1], filterShape: filter.shape, ...plan }),
    );
  },
);
