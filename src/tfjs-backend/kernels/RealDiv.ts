import { RealDiv } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

// float32 only: int32 division by zero has no libtorch equivalent of the JS result.
export const realDivConfig: KernelConfig = binaryKernel(RealDiv, ['float32']);
