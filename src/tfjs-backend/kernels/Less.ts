import { Less } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const lessConfig: KernelConfig = binaryKernel(Less, ['float32', 'int32'], 'bool');
