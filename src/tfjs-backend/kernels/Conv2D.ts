import { Conv2D } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convKernel } from '../kernel_utils.js';

/** NHWC (or NCHW) input, HWIO filter; libtorch sees the NHWC input as a channels_last NCHW view (no copy). */
export const conv2DConfig: KernelConfig = convKernel(Conv2D, { depthwise: false, fused: false });
