import { backend_util, FusedConv2D } from '@tensorflow/tfjs-core';
import type { TensorInfo, FusedConv2DAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import { allValues, convPlan, kernels, NATIVE_ACTIVATIONS, nativeOutput, torchKernel } from '../kernel_utils.js';

/** conv2d + bias + activation in one call: what tfjs-layers runs for Conv2D outside of gradient recording. */
export const fusedConv2DConfig: KernelConfig = torchKernel<
  { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo },
  FusedConv2DAttrs
>(FusedConv2D, ({ inputs: { x, filter, bias }, backend, attrs }) => {
  const { strides, pad, dataFormat, dilations, dimRoundingMode, activation, leakyreluAlpha } = attrs;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || !NATIVE_ACTIVATIONS.has(activation)) return null;
  if (bias && bias.dtype !== 'float32') return null;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const plan = convPlan(info);
  const v = plan && allValues(backend, bias ? [x, filter, bias] : [x, filter]);
  if (!plan || !v) return null;
  // As on the cpu backend: in NCHW, a 1-D bias is per channel.
  const channelBiasNCHW = bias && dataFormat === 'NCHW' && bias.shape.length === 1 && bias.shape[0] !== 1;
  const biasShape = bias && (channelBiasNCHW ? [bias.shape[0], 1, 1] : bias.shape);
  const shape = biasShape ? backend_util.assertAndGetBroadcastShape(info.outShape, biasShape) : info.outShape;
  return nativeOutput(backend, shape, 'float32', (out) =>
    kernels().FusedConv2D(out, {
      x: v[0],
      xShape: x.shape,
      filter: v[1],
      filterShape: filter.shape,
      ...plan,
      bias: bias ? v[2] : null,
      biasShape,
      activation,
      leakyreluAlpha: leakyreluAlpha ?? 0.2,
    }),
  );
});
