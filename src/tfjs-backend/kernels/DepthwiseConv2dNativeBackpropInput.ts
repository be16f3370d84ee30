import { DepthwiseConv2dNativeBackpropInput } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convBackpropInputKernel } from '../kernel_utils.js';

/** The depthwise convolution's input gradient. */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = convBackpropInputKernel(
  DepthwiseConv2dNativeBackpropInput,
  true,
);
