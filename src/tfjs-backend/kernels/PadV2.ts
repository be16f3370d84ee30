import { PadV2 } from '@tensorflow/tfjs-core';
import type { KernelConfig, PadV2Attrs, TensorInfo } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

/** tf.pad (tfjs-layers' ZeroPadding2D, before each strided convolution of ResNet/MobileNet): fill, then one copy. */
export const padV2Config: KernelConfig = torchKernel<{ x: TensorInfo }, PadV2Attrs>(
  PadV2,
  ({ inputs: { x }, backend, attrs: { paddings, constantValue } }) => {
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
    // int32: an Int32Array's fill() truncates a fractional constant; left to the cpu kernel
    if (x.dtype === 'int32' && !Number.isInteger(constantValue)) return null;
    if (paddings.length !== x.shape.length || paddings.some(([a, b]) => !(a >= 0 && b >= 0))) return null;
    const shape = x.shape.map((s, i) => paddings[i][0] + s + paddings[i][1]);
    if (isSmall(shape)) return null;
    const xv = values(backend, x);
    return (
      xv &&
      nativeOutput(backend, shape, x.dtype, (out) =>
        kernels().PadV2(out, { x: xv, xShape: x.shape, paddings: paddings.flat(), constantValue }),
      )
    );
  },
);
