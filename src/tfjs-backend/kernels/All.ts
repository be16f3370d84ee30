import { All } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const allConfig: KernelConfig = reduceKernel(All, ['bool']);
