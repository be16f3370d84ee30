import { LogicalOr } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const logicalOrConfig: KernelConfig = binaryKernel(LogicalOr, ['bool']);
