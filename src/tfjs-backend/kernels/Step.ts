import { Step } from '@tensorflow/tfjs-core';
import type { KernelConfig, StepAttrs } from '@tensorflow/tfjs-core';
import { kernels, unaryKernel } from '../kernel_utils.js';

/** 1 where x > 0, alpha elsewhere (NaN stays NaN): the gradient of relu, on every activation of the backward pass. */
export const stepConfig: KernelConfig = unaryKernel<StepAttrs>(Step, (out, x, { alpha }) =>
  kernels().Step(out, x, { alpha: alpha ?? 0 }),
);
