import { Add } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const addConfig: KernelConfig = binaryKernel(Add, ['float32', 'int32']);
