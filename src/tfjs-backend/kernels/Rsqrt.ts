import { Rsqrt } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { unaryKernel } from '../kernel_utils.js';

export const rsqrtConfig: KernelConfig = unaryKernel(Rsqrt);
