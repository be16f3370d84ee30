import { Equal } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const equalConfig: KernelConfig = binaryKernel(Equal, ['float32', 'int32'], 'bool');
