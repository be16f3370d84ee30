import { SquaredDifference } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const squaredDifferenceConfig: KernelConfig = binaryKernel(SquaredDifference, ['float32']);
