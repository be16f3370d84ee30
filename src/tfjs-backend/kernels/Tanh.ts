import { Tanh } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { unaryKernel } from '../kernel_utils.js';

export const tanhConfig: KernelConfig = unaryKernel(Tanh);
