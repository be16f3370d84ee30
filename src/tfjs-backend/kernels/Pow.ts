import { Pow } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { binaryKernel } from '../kernel_utils.js';

// float32 only: libtorch rejects negative integer powers of int32.
export const powConfig: KernelConfig = binaryKernel(Pow, ['float32']);
