import { DepthwiseConv2dNative } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convKernel } from '../kernel_utils.js';

/**
 * NHWC input, filter [fh, fw, inC, multiplier]: libtorch's grouped convolution with groups = inC on the channels_last
 * view, output channel c * multiplier + m as in tfjs (tfjs-layers' DepthwiseConv2D, MobileNet's blocks).
 */
export const depthwiseConv2dNativeConfig: KernelConfig = convKernel(DepthwiseConv2dNative, {
  depthwise: true,
  fused: false,
});
