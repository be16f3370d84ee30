import { Minimum } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const minimumConfig: KernelConfig = binaryKernel(Minimum, ['float32', 'int32']);
