import { GreaterEqual } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const greaterEqualConfig: KernelConfig = binaryKernel(GreaterEqual, ['float32', 'int32'], 'bool');
