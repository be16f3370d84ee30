import { backend_util, MaxPool } from '@tensorflow/tfjs-core';
import type { TensorInfo, KernelConfig, MaxPoolAttrs } from '@tensorflow/tfjs-core';
import { convPlan, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

export const maxPoolConfig: KernelConfig = torchKernel<{ x: TensorInfo }, MaxPoolAttrs>(
  MaxPool,
  ({ inputs: { x }, backend, attrs }) => {
    if (x.dtype !== 'float32') return null;
    const { filterSize, strides, pad, dimRoundingMode } = attrs;
    const info = backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const plan = convPlan(info);
    const xv = plan && values(backend, x);
    if (!plan || !xv) return null;
    const size = [info.filterHeight, info.filterWidth];
    const { strides: s, pads, dilations: d, channelsLast } = plan;
    return nativeOutput(backend, info.outShape, 'float32', (out) =>
      kernels().MaxPool(out, xv, x.shape, size, s, pads, d, channelsLast),
    );
  },
);
