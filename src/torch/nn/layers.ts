// The layers, with PyTorch's constructor arguments, parameter names and default initialization.
import { Tensor } from '../tensor.js';
import * as ops from '../ops.js';
import * as F from '../functional.js';
import { Module } from './module.js';

type Pair = number | [number, number];

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
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
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
}

/** Children are named 0, 1, 2… so state_dict keys match Python's nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
