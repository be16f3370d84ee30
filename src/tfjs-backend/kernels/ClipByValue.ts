import { ClipByValue } from '@tensorflow/tfjs-core';
import type { ClipByValueAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { kernels, unaryKernel } from '../kernel_utils.js';

export const clipByValueConfig: KernelConfig = unaryKernel<ClipByValueAttrs>(ClipByValue, (out, x, a) =>
  kernels().ClipByValue(out, x, { min: a.clipValueMin, max: a.clipValueMax }),
);
