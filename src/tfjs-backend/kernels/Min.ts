import { Min } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const minConfig: KernelConfig = reduceKernel(Min, ['float32', 'int32']);
