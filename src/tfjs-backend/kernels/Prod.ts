import { Prod } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { reduceKernel } from '../kernel_utils.js';

export const prodConfig: KernelConfig = reduceKernel(Prod, ['float32', 'int32']);
