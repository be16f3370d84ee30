import { backend_util, Conv2D } from '@tensorflow/tfjs-core';
import type { TensorInfo, Conv2DAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, convPlan, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';

/** NHWC (or NCHW) input, HWIO filter; libtorch sees the NHWC input as a channels_last NCHW view (no copy). */
export const conv2DConfig: KernelConfig = torchKernel<{ x: TensorInfo; filter: TensorInfo }, Conv2DAttrs>(
  Conv2D,
  ({ inputs: { x, filter }, backend, attrs }) => {
    if (x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    const plan = convPlan(info);
    const v = plan && allValues(backend, [x, filter]);
    if (!plan || !v) return null;
    return nativeOutput(backend, info.outShape, 'float32', (out) =>
      kernels().Conv2D(out, { x: v[0], xShape: x.shape, filter: v[1], filterShape: filter.shape, ...plan }),
    );
  },
);
