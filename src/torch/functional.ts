// torch.nn.functional: the native-backed building blocks of layers and losses.
// Lives in the Tensor layer because it calls the addon; src/torch/nn re-exports it as nn.functional.
import { native } from '../native/binding.js';
import type { Reduction } from '../native/addon.js';
import { Tensor, wrap } from './tensor.js';

type Pair = number | [number, number];
const pair = (v: Pair): number[] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(native.linear(x.h, weight.h, bias?.h ?? null));
}

export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  stride: Pair = 1,
  padding: Pair = 0,
  dilation: Pair = 1,
  groups = 1,
): Tensor {
  return wrap(native.conv2d(x.h, weight.h, bias?.h ?? null, pair(stride), pair(padding), pair(dilation), groups));
}

export function maxPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null, padding: Pair = 0, dilation: Pair = 1) {
  return wrap(native.maxPool2d(x.h, pair(kernelSize), pair(stride ?? kernelSize), pair(padding), pair(dilation)));
}

export function avgPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null, padding: Pair = 0) {
  return wrap(native.avgPool2d(x.h, pair(kernelSize), pair(stride ?? kernelSize), pair(padding)));
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return wrap(native.adaptiveAvgPool2d(x.h, pair(outputSize)));
}

export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  return wrap(native.batchNorm(x.h, weight?.h, bias?.h, runningMean?.h, runningVar?.h, training, momentum, eps));
}

export const relu = (x: Tensor) => x.relu();
export const gelu = (x: Tensor) => wrap(native.gelu(x.h));
export const leakyRelu = (x: Tensor, slope = 0.01) => wrap(native.leakyRelu(x.h, slope));
export const softmax = (x: Tensor, dim: number) => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number) => x.logSoftmax(dim);

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  return wrap(native.dropout(x.h, p, training));
}

export function crossEntropy(
  input: Tensor,
  target: Tensor,
  opts: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  return wrap(
    native.crossEntropy(
      input.h,
      target.h,
      opts.weight?.h ?? null,
      opts.reduction ?? 'mean',
      opts.ignoreIndex ?? -100,
      opts.labelSmoothing ?? 0,
    ),
  );
}

export function nllLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return wrap(native.nllLoss(input.h, target.h, null, opts.reduction ?? 'mean', -100));
}

export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return wrap(native.mseLoss(input.h, target.h, opts.reduction ?? 'mean'));
}

export function pad(x: Tensor, pads: number[], value = 0): Tensor {
  return wrap(native.pad(x.h, pads, value));
}
