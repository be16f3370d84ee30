// The addon's interface, typed once (the one .d.ts of the native layer). Only src/torch/ (the Tensor layer) and the tfjs
// backend's kernels import it. The torch ops are generated from scripts/gen-ops/ops.spec (TorchBinding, in
// ops.generated.ts); test/native/gen-ops.test.ts checks them against the built addon's exports.
import type { TorchBinding } from './ops.generated.js';

export type { AnyTypedArray, NativeDtype, NativeTensor, Reduction } from './types.js';

export interface Binding extends TorchBinding {
  readonly libtorchVersion: string;
  NativeTensor: unknown;

  // ---- tfjs backend kernels (native/tfjs/, used by src/tfjs-backend) ----
  /** The kernels of the tfjs backend 'torch': tfjs's typed arrays in (read without copying), results into `out`. */
  readonly tfjs: TfjsKernels;
}

// ---- tfjs backend kernels (native/tfjs/) ----
// Argument `out` receives the result: a typed array of the result's dtype and size (float32: Float32Array, int32:
// Int32Array, bool: Uint8Array) that the caller allocates; a size that doesn't match the result is an error. Inputs are
// the typed arrays tfjs's cpu backend stores. Elementwise kernels of one input take (out, x) or (out, x, attrs); every
// other kernel takes (out, attrs): its inputs, each with its shape as `<input>Shape` where the kernel needs one, and its
// attributes, all by name. The native side reads them by name; a missing or mistyped field is a TypeError naming the
// kernel and the field (`Conv2D: attrs.strides must be an array of 2 integers`).
export type TfjsValues = Float32Array | Int32Array | Uint8Array;
type V = TfjsValues;
type Shape = number[];
export type TfjsUnaryKernelName =
  | 'Abs'
  | 'Ceil'
  | 'Cos'
  | 'Elu'
  | 'Erf'
  | 'Exp'
  | 'Expm1'
  | 'Floor'
  | 'Log'
  | 'Log1p'
  | 'Neg'
  | 'Reciprocal'
  | 'Relu'
  | 'Relu6'
  | 'Round'
  | 'Rsqrt'
  | 'Sigmoid'
  | 'Sin'
  | 'Sqrt'
  | 'Square'
  | 'Tanh';
export type TfjsBinaryKernelName =
  | 'Add'
  | 'Sub'
  | 'Multiply'
  | 'RealDiv'
  | 'Maximum'
  | 'Minimum'
  | 'Pow'
  | 'SquaredDifference'
  | 'Equal'
  | 'NotEqual'
  | 'Greater'
  | 'GreaterEqual'
  | 'Less'
  | 'LessEqual'
  | 'LogicalAnd'
  | 'LogicalOr';
export type TfjsReduceKernelName = 'Sum' | 'Mean' | 'Max' | 'Min' | 'Prod' | 'All' | 'Any';

/** Binary kernels broadcast (numpy rules); inputs of equal shapes may leave their shapes out (read flat). */
export interface TfjsBinaryAttrs {
  a: V;
  aShape?: Shape | null;
  b: V;
  bShape?: Shape | null;
}
/** Reductions over `axes`, without keepDims (the caller reshapes). */
export interface TfjsReduceAttrs {
  x: V;
  xShape: Shape;
  axes: number[];
}
/** 2-D conv/pool geometry: strides [h, w], pads [top, bottom, left, right], dilations [h, w], NHWC when channelsLast. */
export interface TfjsConv2DGeometry {
  strides: number[];
  pads: number[];
  dilations: number[];
  channelsLast: boolean;
  /**
   * Convolutions only: groups (default 1), with the filter HWIO [fh, fw, inC / groups, outC]. A depthwise filter
   * [fh, fw, inC, multiplier] is groups = inC with filterShape [fh, fw, 1, inC * multiplier].
   */
  groups?: number;
}
/** Input x and filter (HWIO). */
export interface TfjsConv2DAttrs extends TfjsConv2DGeometry {
  x: V;
  xShape: Shape;
  filter: V;
  filterShape: Shape;
}
/** Activations: 'linear' (default), 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu' (with leakyreluAlpha, 0.2). */
export interface TfjsFusedAttrs {
  bias?: V | null;
  biasShape?: Shape | null;
  activation?: string;
  leakyreluAlpha?: number;
}
export interface TfjsConv2DBackpropFilterAttrs extends TfjsConv2DGeometry {
  x: V;
  xShape: Shape;
  dy: V;
  dyShape: Shape;
  /** HWIO */
  filterShape: Shape;
}
export interface TfjsConv2DBackpropInputAttrs extends TfjsConv2DGeometry {
  dy: V;
  dyShape: Shape;
  filter: V;
  filterShape: Shape;
  inputShape: Shape;
}
export interface TfjsMaxPoolAttrs extends TfjsConv2DGeometry {
  x: V;
  xShape: Shape;
  /** [h, w] */
  filterSize: number[];
}
export interface TfjsMaxPoolGradAttrs extends TfjsMaxPoolAttrs {
  dy: V;
  dyShape: Shape;
}
export interface TfjsMatMulAttrs {
  a: V;
  aShape: Shape;
  b: V;
  bShape: Shape;
  transposeA: boolean;
  transposeB: boolean;
}

export interface TfjsKernels
  extends
    Record<TfjsUnaryKernelName, (out: V, x: V) => void>,
    Record<TfjsBinaryKernelName, (out: V, attrs: TfjsBinaryAttrs) => void>,
    Record<TfjsReduceKernelName, (out: V, attrs: TfjsReduceAttrs) => void> {
  Conv2D(out: V, attrs: TfjsConv2DAttrs): void;
  FusedConv2D(out: V, attrs: TfjsConv2DAttrs & TfjsFusedAttrs): void;
  DepthwiseConv2dNative(out: V, attrs: TfjsConv2DAttrs): void;
  FusedDepthwiseConv2D(out: V, attrs: TfjsConv2DAttrs & TfjsFusedAttrs): void;
  Conv2DBackpropFilter(out: V, attrs: TfjsConv2DBackpropFilterAttrs): void;
  Conv2DBackpropInput(out: V, attrs: TfjsConv2DBackpropInputAttrs): void;
  DepthwiseConv2dNativeBackpropFilter(out: V, attrs: TfjsConv2DBackpropFilterAttrs): void;
  DepthwiseConv2dNativeBackpropInput(out: V, attrs: TfjsConv2DBackpropInputAttrs): void;
  /** offset + (x - mean) * scale / sqrt(variance + eps); each parameter's shape a suffix of x's (or [1]). */
  FusedBatchNorm(
    out: V,
    attrs: {
      x: V;
      xShape: Shape;
      mean: V;
      meanShape: Shape;
      variance: V;
      varianceShape: Shape;
      offset?: V | null;
      offsetShape?: Shape | null;
      scale?: V | null;
      scaleShape?: Shape | null;
      varianceEpsilon: number;
    },
  ): void;
  /**
   * BatchNorm in training mode over x's last axis (native/tfjs/batchnorm.cc): the output is
   * offset + (x - mean) * scale / sqrt(variance + eps) with the batch's mean and biased variance, which it writes
   * into meanOut and varianceOut (one value per channel each).
   */
  BatchNormTraining(
    out: V,
    attrs: { x: V; xShape: Shape; scale: V; offset: V; varianceEpsilon: number; meanOut: V; varianceOut: V },
  ): void;
  /** BatchNormTraining's gradient: dx into the output, the scale's and offset's into dScaleOut and dOffsetOut. */
  BatchNormTrainingGrad(
    out: V,
    attrs: {
      dy: V;
      x: V;
      xShape: Shape;
      mean: V;
      variance: V;
      scale: V;
      varianceEpsilon: number;
      dScaleOut: V;
      dOffsetOut: V;
    },
  ): void;
  MaxPool(out: V, attrs: TfjsMaxPoolAttrs): void;
  MaxPoolGrad(out: V, attrs: TfjsMaxPoolGradAttrs): void;
  BatchMatMul(out: V, attrs: TfjsMatMulAttrs): void;
  _FusedMatMul(out: V, attrs: TfjsMatMulAttrs & TfjsFusedAttrs): void;
  Step(out: V, x: V, attrs: { alpha: number }): void;
  LeakyRelu(out: V, x: V, attrs: { alpha: number }): void;
  ClipByValue(out: V, x: V, attrs: { min: number; max: number }): void;
  Cast(out: V, x: V): void; // to the output array's dtype
  /** Broadcasting; inputs of equal shapes may leave their shapes out. */
  Select(
    out: V,
    attrs: { condition: V; conditionShape?: Shape | null; t: V; tShape?: Shape | null; e: V; eShape?: Shape | null },
  ): void;
  /** Index of tfjs's first extreme value along `axis` (NaNs skipped), as int32. */
  ArgMax(out: V, attrs: { x: V; xShape: Shape; axis: number }): void;
  ArgMin(out: V, attrs: { x: V; xShape: Shape; axis: number }): void;
  Softmax(out: V, attrs: { logits: V; logitsShape: Shape; dim: number }): void;
  Transpose(out: V, attrs: { x: V; xShape: Shape; perm: number[] }): void;
  Tile(out: V, attrs: { x: V; xShape: Shape; reps: number[] }): void;
  GatherV2(out: V, attrs: { x: V; xShape: Shape; indices: Int32Array; axis: number }): void;
  /** paddings: [before0, after0, before1, after1, ...], all non-negative. */
  PadV2(out: V, attrs: { x: V; xShape: Shape; paddings: number[]; constantValue: number }): void;
  Slice(out: V, attrs: { x: V; xShape: Shape; begin: number[]; size: number[] }): void;
}
