import { Max } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const maxConfig: KernelConfig = reduceKernel(Max, ['float32', 'int32']);
