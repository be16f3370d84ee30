import { Sub } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const subConfig: KernelConfig = binaryKernel(Sub, ['float32', 'int32']);
