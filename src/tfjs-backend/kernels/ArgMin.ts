import { ArgMin } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { argReduceKernel } from '../kernel_utils.js';

export const argMinConfig: KernelConfig = argReduceKernel(ArgMin);
