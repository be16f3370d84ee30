import { DepthwiseConv2dNativeBackpropFilter } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convBackpropFilterKernel } from '../kernel_utils.js';

/** The depthwise filter's gradient: the grouped convolution's, as [fh, fw, inC, multiplier]. */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = convBackpropFilterKernel(
  DepthwiseConv2dNativeBackpropFilter,
  true,
);
