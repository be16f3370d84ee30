import { Greater } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const greaterConfig: KernelConfig = binaryKernel(Greater, ['float32', 'int32'], 'bool');
