import { Conv2DBackpropFilter, util } from '@tensorflow/tfjs-core';
import type { TensorInfo, Conv2DBackpropFilterAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, conv2DInfo, convPlan, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';

/** The filter's gradient: 92% of a CNN step on the cpu backend. */
export const conv2DBackpropFilterConfig: KernelConfig = torchKernel<
  { x: TensorInfo; dy: TensorInfo },
  Conv2DBackpropFilterAttrs
>(Conv2DBackpropFilter, ({ inputs: { x, dy }, backend, attrs }) => {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const { filterShape } = attrs;
  const info = conv2DInfo(x.shape, filterShape, { ...attrs, dilations: 1 });
  const plan = convPlan(info);
  const v = plan && util.arraysEqual(dy.shape, info.outShape) && allValues(backend, [x, dy]);
  if (!plan || !v) return null;
  return nativeOutput(backend, filterShape, 'float32', (out) =>
    kernels().Conv2DBackpropFilter(out, {
      x: v[0],
      xShape: x.shape,
      dy: v[1],
      dyShape: dy.shape,
      filterShape,
      ...plan,
    }),
  );
});
