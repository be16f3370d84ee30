import { Mean } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const meanConfig: KernelConfig = reduceKernel(Mean, ['float32']);
