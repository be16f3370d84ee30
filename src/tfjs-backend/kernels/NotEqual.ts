import { NotEqual } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const notEqualConfig: KernelConfig = binaryKernel(NotEqual, ['float32', 'int32'], 'bool');
