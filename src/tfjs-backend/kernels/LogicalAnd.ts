import { LogicalAnd } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

export const logicalAndConfig: KernelConfig = binaryKernel(LogicalAnd, ['bool']);
