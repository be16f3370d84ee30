import { Conv2DBackpropInput } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convBackpropInputKernel } from '../kernel_utils.js';

/** The input's gradient (also tfjs's conv2dTranspose). */
export const conv2DBackpropInputConfig: KernelConfig = convBackpropInputKernel(Conv2DBackpropInput, false);
