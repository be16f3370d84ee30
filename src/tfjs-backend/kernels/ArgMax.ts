import { ArgMax, backend_util, util } from '@tensorflow/tfjs-core';
import type { ArgMaxAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { isSmall, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

/** Index of the first extreme value along one axis, as int32. */
export const argMaxConfig: KernelConfig = torchKernel<{ x: TensorInfo }, ArgMaxAttrs>(
  ArgMax,
  ({ inputs: { x }, backend, attrs }) => {
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || isSmall(x.shape)) return null;
    const axes = util.parseAxisParam(attrs.axis, x.shape);
    if (axes.length !== 1) return null;
    const xv = values(backend, x);
    if (!xv) return null;
    const [shape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    return nativeOutput(backend, shape, 'int32', (out) =>
      kernels().ArgMax(out, { x: xv, xShape: x.shape, axis: axes[0] }),
    );
  },
);
