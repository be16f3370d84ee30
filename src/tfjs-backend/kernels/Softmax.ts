import { Softmax, util } from '@tensorflow/tfjs-core';
import type { TensorInfo, KernelConfig, SoftmaxAttrs } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

export const softmaxConfig: KernelConfig = torchKernel<{ logits: TensorInfo }, SoftmaxAttrs>(
  Softmax,
  ({ inputs: { logits }, backend, attrs: { dim } }) => {
    if (logits.dtype !== 'float32' || isSmall(logits.shape) || logits.shape.length === 0) return null;
    const [axis] = util.parseAxisParam([dim], logits.shape);
    const v = values(backend, logits);
    return (
      v &&
      nativeOutput(backend, logits.shape, 'float32', (out) =>
        kernels().Softmax(out, { logits: v, logitsShape: logits.shape, dim: axis }),
      )
    );
  },
);
