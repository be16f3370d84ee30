import { Multiply } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const multiplyConfig: KernelConfig = binaryKernel(Multiply, ['float32', 'int32']);
