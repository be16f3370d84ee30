import { Log1p } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { unaryKernel } from '../kernel_utils.js';

export const log1pConfig: KernelConfig = unaryKernel(Log1p);
