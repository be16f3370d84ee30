import { Conv2DBackpropInput, util } from '@tensorflow/tfjs-core';
import type { TensorInfo, Conv2DBackpropInputAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, conv2DInfo, convPlan, kernels, nativeOutput, torchKernel } from '../kernel_utils.js';

/** The input's gradient (also tfjs's conv2dTranspose). */
export const conv2DBackpropInputConfig: KernelConfig = torchKernel<
  { dy: TensorInfo; filter: TensorInfo },
  Conv2DBackpropInputAttrs
>(Conv2DBackpropInput, ({ inputs: { dy, filter }, backend, attrs }) => {
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const { inputShape } = attrs;
  const info = conv2DInfo(inputShape, filter.shape, { ...attrs, dilations: 1 });
  const plan = convPlan(info);
  const v = plan && util.arraysEqual(dy.shape, info.outShape) && allValues(backend, [dy, filter]);
  if (!plan || !v) return null;
  return nativeOutput(backend, inputShape, 'float32', (out) =>
    kernels().Conv2DBackpropInput(out, {
      dy: v[0],
      dyShape: dy.shape,
      filter: v[1],
      filterShape: filter.shape,
      inputShape,
      ...plan,
    }),
  );
});
