import { Sum } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const sumConfig: KernelConfig = reduceKernel(Sum, ['float32', 'int32', 'bool'], (d) =>
  d === 'float32' ? 'float32' : 'int32',
);
