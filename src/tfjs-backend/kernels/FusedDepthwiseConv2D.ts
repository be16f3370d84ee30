import { FusedDepthwiseConv2D } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convKernel } from '../kernel_utils.js';

/** Depthwise conv + bias + activation (tf.fused.depthwiseConv2d), as FusedConv2D. */
export const fusedDepthwiseConv2DConfig: KernelConfig = convKernel(FusedDepthwiseConv2D, {
  depthwise: true,
  fused: true,
});
