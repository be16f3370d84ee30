import { LessEqual } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const lessEqualConfig: KernelConfig = binaryKernel(LessEqual, ['float32', 'int32'], 'bool');
