import { Any } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const anyConfig: KernelConfig = reduceKernel(Any, ['bool']);
