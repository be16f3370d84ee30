import { FusedConv2D } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convKernel } from '../kernel_utils.js';

/** conv2d + bias + activation in one call: what tfjs-layers runs for Conv2D outside of gradient recording. */
export const fusedConv2DConfig: KernelConfig = convKernel(FusedConv2D, { depthwise: false, fused: true });
