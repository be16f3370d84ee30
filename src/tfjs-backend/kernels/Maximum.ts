import { Maximum } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const maximumConfig: KernelConfig = binaryKernel(Maximum, ['float32', 'int32']);
