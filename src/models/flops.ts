// Forward FLOPs per image, layer by layer, of a built tfjs Layers model (any registry architecture's `keras(tfl)`):
// what the bench divides by to get a model FLOP utilisation. Type-only tfjs imports: this file reads shapes and
// weights off the model it is given and loads no framework.
//
// A multiply-add is 2 FLOPs. The products (convolutions and dense layers) are counted exactly from their shapes:
//   Conv2D           2 · outH · outW · kh · kw · inC · outC
//   DepthwiseConv2D  2 · outH · outW · kh · kw · C · multiplier
//   SeparableConv2D  the depthwise part above, plus the pointwise 1x1 part 2 · outH · outW · (C · multiplier) · outC
//   Dense            2 · in · out (times any middle dimensions when the input has more than two)
// Everything else is elementwise and counted apart, roughly, as ops per element: a bias add or an activation 1 per
// output element (softmax 3), batch norm 2 (scale and shift), a pooling window its size per output element, global
// pooling 1 per input element, an n-way add n - 1 per output element; dropout, flatten, reshape and padding nothing.
// On these models the elementwise part is a few percent of the products at most.
import type { LayersModel } from '@tensorflow/tfjs-layers';

type Layer = LayersModel['layers'][number];
type Shape = (number | null)[];

export interface LayerFlops {
  /** The layer's name, prefixed with its container's for nested models ("block1/conv"). */
  name: string;
  /** The tfjs class name: Conv2D, Dense, BatchNormalization, ... */
  className: string;
  /** The output shape without the batch dimension. */
  outputShape: number[];
  /** Weights, trainable or not (as tfjs counts them: batch norm's moving statistics included). */
  params: number;
  /** Multiply-add FLOPs of the layer's convolution or matrix product, per image. */
  matmul: number;
  /** Elementwise FLOPs per image (bias, activation, normalisation, pooling, adds), approximate. */
  elementwise: number;
  /** True for a class this counter does not know: counted as 0, so the totals may be low. */
  unknown?: boolean;
}

export interface ModelFlops {
  layers: LayerFlops[];
  /** Forward multiply-add FLOPs per image: the sum of the layers' `matmul`. */
  forwardMatmul: number;
  /** Forward elementwise FLOPs per image (approximate, and small). */
  forwardElementwise: number;
  /**
   * FLOPs of one training step per image, ≈ 3 × forwardMatmul: the backward pass computes, for each product, the
   * gradient with respect to its input and the one with respect to its weights, each as large as the forward
   * product. (The first layer needs no input gradient, and elementwise work is left out, so this is an estimate
   * that is close on conv and dense nets.)
   */
  training: number;
  /** Layers whose class was not recognised (counted as 0). */
  unknown: string[];
}

const ELEMENTWISE_NONE = new Set([
  'InputLayer',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianDropout',
  'AlphaDropout',
  'Flatten',
  'Reshape',
  'Permute',
  'ZeroPadding2D',
  'Cropping2D',
  'Concatenate',
  'RepeatVector',
]);
const ACTIVATIONS = new Set(['ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Activation']);
const MERGES = new Set(['Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Subtract']);

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
/** A shape without its batch dimension, nulls (unknown sizes) as 1. */
const dims = (s: Shape): number[] => s.slice(1).map((d) => d ?? 1);
/** A node's shapes: one Shape, or a list of them for several inputs or outputs. */
const shapes = (s: Shape | Shape[]): Shape[] => (Array.isArray(s[0]) ? (s as Shape[]) : [s as Shape]);

/** Ops per element of an activation function (fused into Conv2D/Dense, or an Activation layer). */
function activationOps(name: unknown): number {
  if (name === undefined || name === null || name === 'linear') return 0;
  return name === 'softmax' ? 3 : 1;
}

function kernelShape(layer: Layer, suffix: string): number[] | undefined {
  const w = layer.weights.find((v) => v.name.endsWith(`/${suffix}`) || v.name === suffix);
  return w?.shape.map((d) => d ?? 1);
}

/** [spatial positions, channels] of an image-shaped output, in either data format. */
function spatial(out: number[], config: Record<string, unknown>): [number, number] {
  const channelsFirst = config.dataFormat === 'channelsFirst';
  const channels = channelsFirst ? out[0] : out[out.length - 1];
  return [prod(out) / channels, channels];
}

function countNode(layer: Layer, inShapes: Shape[], outShape: Shape): Omit<LayerFlops, 'name' | 'params'> {
  const className = layer.getClassName();
  const config = layer.getConfig() as Record<string, unknown>;
  const out = dims(outShape);
  const outSize = prod(out);
  const inSizes = inShapes.map((s) => prod(dims(s)));
  const bias = config.useBias === false ? 0 : 1;
  const fused = bias + activationOps(config.activation);
  const row = (matmul: number, elementwise: number, unknown = false) => ({
    className,
    outputShape: out,
    matmul,
    elementwise,
    ...(unknown ? { unknown } : {}),
  });

  switch (className) {
    case 'Conv2D':
    case 'Conv1D':
    case 'Conv3D': {
      // kernel [kh, kw, inC, outC]: 2 · outH · outW · kh · kw · inC · outC
      const k = kernelShape(layer, 'kernel')!;
      const [positions] = spatial(out, config);
      return row(2 * positions * prod(k), outSize * fused);
    }
    case 'DepthwiseConv2D': {
      // depthwise kernel [kh, kw, C, multiplier]: 2 · outH · outW · kh · kw · C · multiplier
      const k = kernelShape(layer, 'depthwise_kernel')!;
      const [positions] = spatial(out, config);
      return row(2 * positions * prod(k), outSize * fused);
    }
    case 'SeparableConv2D': {
      // depthwise [kh, kw, C, mult] at the output's resolution, then pointwise [1, 1, C · mult, outC]
      const dw = kernelShape(layer, 'depthwise_kernel')!;
      const pw = kernelShape(layer, 'pointwise_kernel')!;
      const [positions] = spatial(out, config);
      return row(2 * positions * (prod(dw) + prod(pw)), outSize * fused);
    }
    case 'Dense': {
      // kernel [in, out]: 2 · in · out per row; an input [.., m, in] has m rows per image
      const k = kernelShape(layer, 'kernel')!;
      const rows = outSize / k[1];
      return row(2 * rows * prod(k), outSize * fused);
    }
    case 'BatchNormalization':
    case 'LayerNormalization':
      return row(0, 2 * outSize);
    case 'Softmax':
      return row(0, 3 * outSize);
    case 'MaxPooling2D':
    case 'AveragePooling2D':
    case 'MaxPooling1D':
    case 'AveragePooling1D': {
      const pool = config.poolSize;
      const window = Array.isArray(pool) ? prod(pool as number[]) : Number(pool ?? 1);
      return row(0, outSize * window);
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
    case 'GlobalAveragePooling1D':
    case 'GlobalMaxPooling1D':
      return row(0, inSizes[0] ?? 0);
  }
  if (ACTIVATIONS.has(className)) return row(0, outSize * Math.max(1, activationOps(config.activation)));
  if (MERGES.has(className)) return row(0, outSize * Math.max(0, inShapes.length - 1));
  if (ELEMENTWISE_NONE.has(className)) return row(0, 0);
  return row(0, 0, true);
}

function walk(layers: readonly Layer[], prefix: string, rows: LayerFlops[]): void {
  for (const layer of layers) {
    const inner = (layer as unknown as { layers?: Layer[] }).layers;
    if (Array.isArray(inner)) {
      // A nested model: count its own layers (once per use of them inside it).
      walk(inner, `${prefix}${layer.name}/`, rows);
      continue;
    }
    // Once per application: a layer shared between two calls in the graph costs twice (its weights count once).
    layer.inboundNodes.forEach((node, i) => {
      const r = countNode(layer, shapes(node.inputShapes), shapes(node.outputShapes)[0]);
      rows.push({ name: `${prefix}${layer.name}`, ...r, params: i === 0 ? layer.countParams() : 0 });
    });
  }
}

/** Forward FLOPs per image of each layer of `model`, with the totals and the training-step estimate. */
export function countFlops(model: LayersModel): ModelFlops {
  const layers: LayerFlops[] = [];
  walk(model.layers, '', layers);
  const forwardMatmul = layers.reduce((s, l) => s + l.matmul, 0);
  const forwardElementwise = layers.reduce((s, l) => s + l.elementwise, 0);
  return {
    layers,
    forwardMatmul,
    forwardElementwise,
    training: 3 * forwardMatmul,
    unknown: layers.filter((l) => l.unknown).map((l) => `${l.name} (${l.className})`),
  };
}
