import { Relu6 } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { unaryKernel } from '../kernel_utils.js';

export const relu6Config: KernelConfig = unaryKernel(Relu6);
