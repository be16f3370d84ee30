import { Expm1 } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { unaryKernel } from '../kernel_utils.js';

export const expm1Config: KernelConfig = unaryKernel(Expm1);
