// The layers, with PyTorch's constructor arguments, parameter names and default initialization.
import { Tensor } from '../tensor.js';
import * as ops from '../ops.js';
import * as F from '../functional.js';
import { Module } from './module.js';
import type { ChannelAffine, OnnxGraph } from './onnx.js';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/**
 * Weights with an inference-mode BatchNorm folded in, for a weight of [out, ...] and an optional bias [out]: each
 * output channel's row times scale[o], and bias · scale + shift (in float64, rounded to float32 once).
 */
function foldAffine(weight: Tensor, bias: Tensor | null, bn: ChannelAffine): { w: Float32Array; b: Float32Array } {
  const w0 = weight.toFloat32();
  const out = weight.shape[0];
  if (bn.scale.length !== out)
    throw new Error(`ONNX export: a BatchNorm of ${bn.scale.length} channels follows a layer of ${out} outputs`);
  const b0 = bias ? bias.toFloat32() : new Float32Array(out);
  const row = w0.length / out;
  const w = new Float32Array(w0.length);
  const b = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    for (let k = o * row; k < (o + 1) * row; k++) w[k] = w0[k] * bn.scale[o];
    b[o] = b0[o] * bn.scale[o] + bn.shift[o];
  }
  return { w, b };
}

/** PyTorch's default for Linear and Conv: kaiming_uniform_(a=√5) on the weight, U(±1/√fan_in) on the bias. */
function initUniform(t: Tensor, fanIn: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  ops.noGrad(() => t.uniform_(-bound, bound));
  return t;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = this.registerParameter('weight', initUniform(ops.empty([outFeatures, inFeatures]), inFeatures));
    this.bias = bias ? this.registerParameter('bias', initUniform(ops.empty([outFeatures]), inFeatures)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  /** Gemm(x, W, b) with transB: y = x · Wᵀ + b. Gemm takes 2-D input, which is what follows a Flatten. */
  override toOnnx(g: OnnxGraph, input: string): string {
    const dims = [this.outFeatures, this.inFeatures];
    const inputs = [input, g.initializer('weight', this.weight.toFloat32(), dims)];
    if (this.bias) inputs.push(g.initializer('bias', this.bias.toFloat32(), [this.outFeatures]));
    return g.node('Gemm', inputs, { transB: 1 });
  }
  override toOnnxFolded(g: OnnxGraph, input: string, bn: ChannelAffine): string {
    const { w, b } = foldAffine(this.weight, this.bias, bn);
    const weight = g.initializer('weight', w, [this.outFeatures, this.inFeatures]);
    return g.node('Gemm', [input, weight, g.initializer('bias', b, [this.outFeatures])], { transB: 1 });
  }
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: Pair,
    readonly opts: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; bias?: boolean } = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = opts.groups ?? 1;
    const fanIn = (inChannels / groups) * kh * kw;
    this.weight = this.registerParameter(
      'weight',
      initUniform(ops.empty([outChannels, inChannels / groups, kh, kw]), fanIn),
    );
    this.bias =
      opts.bias === false ? null : this.registerParameter('bias', initUniform(ops.empty([outChannels]), fanIn));
  }
  forward(x: Tensor): Tensor {
    const o = this.opts;
    return F.conv2d(x, this.weight, this.bias, o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.groups ?? 1);
  }
  /** Conv with PyTorch's weight layout [out, in/groups, kh, kw]; groups = channels is a depthwise convolution. */
  override toOnnx(g: OnnxGraph, input: string): string {
    return this.conv(g, input, this.weight.toFloat32(), this.bias?.toFloat32() ?? null);
  }
  override toOnnxFolded(g: OnnxGraph, input: string, bn: ChannelAffine): string {
    const { w, b } = foldAffine(this.weight, this.bias, bn);
    return this.conv(g, input, w, b);
  }
  private conv(g: OnnxGraph, input: string, w: Float32Array, b: Float32Array | null): string {
    const o = this.opts;
    const [kh, kw] = pair(this.kernelSize);
    const [ph, pw] = pair(o.padding ?? 0);
    const inputs = [input, g.initializer('weight', w, this.weight.shape)];
    if (b) inputs.push(g.initializer('bias', b, [this.outChannels]));
    return g.node('Conv', inputs, {
      kernel_shape: [kh, kw],
      strides: pair(o.stride ?? 1),
      pads: [ph, pw, ph, pw], // [top, left, bottom, right]: PyTorch pads both sides alike
      dilations: pair(o.dilation ?? 1),
      group: o.groups ?? 1,
    });
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.registerParameter('weight', ops.ones([numFeatures]));
    this.bias = this.registerParameter('bias', ops.zeros([numFeatures]));
    // Python's buffer names, so the state_dict loads there.
    this.runningMean = this.registerBuffer('running_mean', ops.zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ops.ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', ops.zeros([], { dtype: 'int64' }));
  }
  forward(x: Tensor): Tensor {
    if (this.training) ops.noGrad(() => this.numBatchesTracked.add_(1));
    return F.batchNorm(
      x,
      this.runningMean,
      this.runningVar,
      this.weight,
      this.bias,
      this.training,
      this.momentum,
      this.eps,
    );
  }
  /** Inference mode: (x − running_mean) / √(running_var + eps) · weight + bias, per channel. */
  affine(): ChannelAffine {
    const [gamma, beta, mean, variance] = [this.weight, this.bias, this.runningMean, this.runningVar].map((t) =>
      t.toFloat32(),
    );
    const scale = new Float64Array(this.numFeatures);
    const shift = new Float64Array(this.numFeatures);
    for (let c = 0; c < this.numFeatures; c++) {
      scale[c] = gamma[c] / Math.sqrt(variance[c] + this.eps);
      shift[c] = beta[c] - mean[c] * scale[c];
    }
    return { scale, shift };
  }
  /** A BatchNorm that no Conv or Linear precedes (e.g. after a pool): BatchNormalization with the running stats. */
  override toOnnx(g: OnnxGraph, input: string): string {
    const c = [this.numFeatures];
    const [scale, bias, mean, variance] = (
      [
        ['weight', this.weight],
        ['bias', this.bias],
        ['running_mean', this.runningMean],
        ['running_var', this.runningVar],
      ] as const
    ).map(([name, t]) => g.initializer(name, t.toFloat32(), c));
    return g.node('BatchNormalization', [input, scale, bias, mean, variance], { epsilon: { float: this.eps } });
  }
}

export class BatchNorm1d extends BatchNorm2d {}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly stride?: Pair,
    readonly padding: Pair = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.stride, this.padding);
  }
  override toOnnx(g: OnnxGraph, input: string): string {
    const [ph, pw] = pair(this.padding);
    return g.node('MaxPool', [input], {
      kernel_shape: pair(this.kernelSize),
      strides: pair(this.stride ?? this.kernelSize),
      pads: [ph, pw, ph, pw],
    });
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly stride?: Pair,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.stride);
  }
  /** No padding here, so count_include_pad does not matter. */
  override toOnnx(g: OnnxGraph, input: string): string {
    return g.node('AveragePool', [input], {
      kernel_shape: pair(this.kernelSize),
      strides: pair(this.stride ?? this.kernelSize),
    });
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  /** Only size 1 has a fixed ONNX form (GlobalAveragePool): other sizes depend on the input's, unknown at export. */
  override toOnnx(g: OnnxGraph, input: string): string {
    const [h, w] = pair(this.outputSize);
    if (h !== 1 || w !== 1)
      throw new Error(
        `ONNX export: AdaptiveAvgPool2d(${this.outputSize})${g.path ? ` (at ${g.path})` : ''}: only output size 1 ` +
          'has an ONNX form (GlobalAveragePool)',
      );
    return g.node('GlobalAveragePool', [input]);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
  override toOnnx(g: OnnxGraph, input: string): string {
    return g.node('Relu', [input]);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
  override toOnnx(_g: OnnxGraph, input: string): string {
    return input;
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
  /** Inference mode: the identity, so no node at all. */
  override toOnnx(_g: OnnxGraph, input: string): string {
    return input;
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  /** ONNX's Flatten always makes 2-D [d0 · … · d(axis−1), the rest]: that is PyTorch's only for Flatten(1, -1). */
  override toOnnx(g: OnnxGraph, input: string): string {
    if (this.startDim !== 1 || this.endDim !== -1)
      throw new Error(
        `ONNX export: Flatten(${this.startDim}, ${this.endDim})${g.path ? ` (at ${g.path})` : ''}: only ` +
          'Flatten(1, -1) has an ONNX form (Flatten, axis 1)',
      );
    return g.node('Flatten', [input], { axis: 1 });
  }
}

/** Children are named 0, 1, 2… so state_dict keys match Python's nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  // Each intermediate's handle is freed as soon as the next layer has consumed it, not at the end of the caller's
  // tidy: autograd keeps its own reference to what backward needs, and the freed memory is reused by the next
  // layer. Holding every activation to the end made a 1,000-image float32 inference of the resnet 1.5-4x slower
  // than Python's, almost all of it page faults on fresh memory.
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) {
      const next = m.call(y);
      if (y !== x && next !== y) y.dispose(); // the child's scope kept its output; free it once the next has it
      y = next;
    }
    return y;
  }
  /** The children in order, each under its index; a BatchNorm right after a layer that can fold it is folded. */
  override toOnnx(g: OnnxGraph, input: string): string {
    let y = input;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i];
      const next = this.layers[i + 1];
      if (next instanceof BatchNorm2d && m.toOnnxFolded) {
        const bn = next.affine();
        y = g.scoped(String(i), () => m.toOnnxFolded!(g, y, bn));
        i++;
      } else y = g.scoped(String(i), () => m.onnx(g, y));
    }
    return y;
  }
}
