// The pieces the architectures share, once per framework: conv → (max-pool) → BatchNorm → (ReLU), and a residual
// add. Both sides build the same layers with the same trainable parameters; each architecture's model.py spells
// the same pieces in Python (those files stand alone, so a user can read one without the others).
import type * as TorchApi from '../torch/index.js';
import type * as TflApi from '@tensorflow/tfjs-layers';
import { torchInit, type Tfl, type Torch } from './spec.js';

type Module = TorchApi.nn.Module;
type Sym = TflApi.SymbolicTensor;

export interface ConvBnOptions {
  /** Square kernel size (default 3). */
  kernel?: number;
  stride?: number;
  /** Pad by kernel/2 on every side (PyTorch's `padding=k//2`), or not at all (default true). */
  pad?: boolean;
  /** `groups === cin === cout` is a depthwise convolution (Keras DepthwiseConv2D). */
  groups?: number;
  /** A 2x2 max-pool between the convolution and the BatchNorm (cheaper: BN runs on a quarter of the pixels). */
  pool?: boolean;
  /** A ReLU after the BatchNorm (default true). */
  relu?: boolean;
}

const defaults = (o: ConvBnOptions) => ({
  kernel: o.kernel ?? 3,
  stride: o.stride ?? 1,
  pad: o.pad ?? true,
  groups: o.groups ?? 1,
  pool: o.pool ?? false,
  relu: o.relu ?? true,
});

/** The layers of conv-BN-ReLU as a list, so that a caller can spread them into a flat nn.Sequential. */
export function torchConvBnLayers({ nn }: Torch, cin: number, cout: number, opts: ConvBnOptions = {}): Module[] {
  const o = defaults(opts);
  const layers: Module[] = [
    new nn.Conv2d(cin, cout, o.kernel, {
      stride: o.stride,
      padding: o.pad ? Math.floor(o.kernel / 2) : 0,
      groups: o.groups,
      bias: false, // the BatchNorm's shift makes a bias redundant
    }),
  ];
  if (o.pool) layers.push(new nn.MaxPool2d(2));
  layers.push(new nn.BatchNorm2d(cout));
  if (o.relu) layers.push(new nn.ReLU());
  return layers;
}

/** conv-BN-ReLU as one nn.Sequential (Python: `conv_bn(cin, cout, ...)`). */
export const torchConvBn = (torch: Torch, cin: number, cout: number, opts: ConvBnOptions = {}): Module =>
  new torch.nn.Sequential(...torchConvBnLayers(torch, cin, cout, opts));

/**
 * `x + body(x)`, with Python's key `body.` (Python: `class Residual(nn.Module)`). The class is made from the torch
 * API the builder was given, as every builder here only imports torch's types.
 */
export function torchResidual(torch: Torch, body: Module): Module {
  class Residual extends torch.nn.Module {
    readonly body = this.registerModule('body', body);
    forward(x: TorchApi.Tensor): TorchApi.Tensor {
      return x.add(this.body.call(x)); // call's scope frees the branch once the sum exists
    }
    override toOnnx(g: TorchApi.nn.OnnxGraph, input: string): string {
      return g.node('Add', [input, g.scoped('body', () => this.body.onnx(g, input))]);
    }
  }
  return new Residual();
}

/**
 * The same conv-BN-ReLU on a Keras symbolic tensor (NHWC). Strided padded convolutions pad explicitly
 * (ZeroPadding2D, then 'valid'), because tfjs's 'same' puts the odd row at the bottom only and PyTorch pads both
 * sides: this way the two frameworks compute the same function, and weights can move between them.
 */
export function kerasConvBn(tfl: Tfl, x: Sym, cout: number, opts: ConvBnOptions = {}): Sym {
  const o = defaults(opts);
  const cin = x.shape[x.shape.length - 1] as number;
  const half = Math.floor(o.kernel / 2);
  let padding: 'same' | 'valid' = 'valid';
  if (o.pad && half > 0) {
    if (o.stride === 1) padding = 'same';
    else x = tfl.layers.zeroPadding2d({ padding: half }).apply(x) as Sym;
  }
  const common = { kernelSize: o.kernel, strides: o.stride, padding, useBias: false };
  let y: Sym;
  if (o.groups === 1) {
    const { kernelInitializer } = torchInit(tfl, cin * o.kernel * o.kernel);
    y = tfl.layers.conv2d({ ...common, filters: cout, kernelInitializer }).apply(x) as Sym;
  } else if (o.groups === cin && cout === cin) {
    // PyTorch's fan-in for a depthwise kernel is kernel² (one input channel per group); tfjs would count kernel²·C.
    const bound = 1 / o.kernel;
    y = tfl.layers
      .depthwiseConv2d({
        ...common,
        depthMultiplier: 1,
        depthwiseInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound }),
      })
      .apply(x) as Sym;
  } else {
    throw new Error(`kerasConvBn: groups=${o.groups} with ${cin}→${cout} channels (only 1 or depthwise)`);
  }
  if (o.pool) y = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(y) as Sym;
  y = kerasBatchNorm(tfl).apply(y) as Sym;
  if (o.relu) y = tfl.layers.reLU().apply(y) as Sym;
  return y;
}

/**
 * A Keras BatchNormalization over the channels with PyTorch's settings: momentum 0.9 (PyTorch's 0.1 from the other
 * side) and epsilon 1e-5, where tfjs's defaults are 0.99 and 1e-3. The two frameworks then train the same function,
 * and Keras's running statistics no longer lag behind PyTorch's early on (cnn-bn after 113 steps: validation accuracy
 * 0.825 against PyTorch's 0.831; 0.560 with tfjs's defaults).
 */
export const kerasBatchNorm = (tfl: Tfl) => tfl.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 });

/** `x + body(x)` in Keras. */
export const kerasResidual = (tfl: Tfl, x: Sym, body: (x: Sym) => Sym): Sym =>
  tfl.layers.add().apply([x, body(x)]) as Sym;

/** Global average pool and the softmax classifier, the head of the functional models. */
export function kerasHead(tfl: Tfl, input: Sym, x: Sym, name: string, classes = 10): TflApi.LayersModel {
  const c = x.shape[x.shape.length - 1] as number;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(x) as Sym;
  const out = tfl.layers.dense({ units: classes, activation: 'softmax', ...torchInit(tfl, c) }).apply(pooled) as Sym;
  return tfl.model({ inputs: input, outputs: out, name });
}
