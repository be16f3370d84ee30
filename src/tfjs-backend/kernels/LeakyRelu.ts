import { LeakyRelu } from '@tensorflow/tfjs-core';
import type { KernelConfig, LeakyReluAttrs } from '@tensorflow/tfjs-core';
import { kernels, unaryKernel } from '../kernel_utils.js';

export const leakyReluConfig: KernelConfig = unaryKernel<LeakyReluAttrs>(LeakyRelu, (out, x, { alpha }) =>
  kernels().LeakyRelu(out, x, { alpha }),
);
