// The addon's interface, typed once (the one .d.ts of the native layer). Only src/torch/ (the Tensor layer) and the tfjs
// backend's kernels import it. The torch ops are generated from scripts/gen-ops/ops.spec (TorchBinding, in
// ops.generated.ts); test/native/gen-ops.test.ts checks them against the built addon's exports.
import type { TorchBinding } from './ops.generated.js';

export type { AnyTypedArray, NativeDtype, NativeTensor, Reduction } from './types.js';

export interface Binding extends TorchBinding {
  readonly libtorchVersion: string;
  NativeTensor: unknown;

  // ---- tfjs backend kernels (native/tfjs_kernels.cc, used by src/tfjs-backend) ----
  /** The kernels of the tfjs backend 'torch': tfjs's typed arrays in (read without copying), results into `out`. */
  readonly tfjs: TfjsKernels;
}

// ---- tfjs backend kernels (native/tfjs_kernels.cc) ----
// Argument `out` receives the result: a typed array of the result's dtype and size (float32: Float32Array, int32:
// Int32Array, bool: Uint8Array) that the caller allocates; a size that doesn't match the result is an error. The inputs
// are the typed arrays tfjs's cpu backend stores, each followed by its shape where the kernel needs one.
// Conv/pool attributes: strides [h, w], pads [top, bottom, left, right], dilations [h, w], channelsLast (NHWC).
export type TfjsValues = Float32Array | Int32Array | Uint8Array;
type V = TfjsValues;
type Shape = number[] | null;
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
export interface TfjsKernels
  extends
    Record<TfjsUnaryKernelName, (out: V, x: V) => void>,
    Record<TfjsBinaryKernelName, (out: V, a: V, aShape: Shape, b: V, bShape: Shape) => void>,
    Record<TfjsReduceKernelName, (out: V, x: V, xShape: number[], axes: number[]) => void> {
  Conv2D(
    out: V,
    x: V,
    xShape: number[],
    filter: V,
    filterShape: number[],
    strides: number[],
    pads: number[],
    dilations: number[],
    channelsLast: boolean,
  ): void;
  FusedConv2D(
    out: V,
    x: V,
    xShape: number[],
    filter: V,
    filterShape: number[],
    strides: number[],
    pads: number[],
    dilations: number[],
    channelsLast: boolean,
    bias: V | null,
    biasShape: number[] | null,
    activation: string,
    leakyreluAlpha: number,
  ): void;
  Conv2DBackpropFilter(
    out: V,
    x: V,
    xShape: number[],
    dy: V,
    dyShape: number[],
    filterShape: number[],
    strides: number[],
    pads: number[],
    dilations: number[],
    channelsLast: boolean,
  ): void;
  Conv2DBackpropInput(
    out: V,
    dy: V,
    dyShape: number[],
    filter: V,
    filterShape: number[],
    inShape: number[],
    strides: number[],
    pads: number[],
    dilations: number[],
    channelsLast: boolean,
  ): void;
  MaxPool(
    out: V,
    x: V,
    xShape: number[],
    filterSize: number[],
    strides: number[],
    pads: number[],
    dilations: number[],
    channelsLast: boolean,
  ): void;
  MaxPoolGrad(
    out: V,
    dy: V,
    dyShape: number[],
    x: V,
    xShape: number[],
    filterSize: number[],
    strides: number[],
    pads: number[],
    dilations: number[],
    channelsLast: boolean,
  ): void;
  BatchMatMul(out: V, a: V, aShape: number[], b: V, bShape: number[], transposeA: boolean, transposeB: boolean): void;
  _FusedMatMul(
    out: V,
    a: V,
    aShape: number[],
    b: V,
    bShape: number[],
    transposeA: boolean,
    transposeB: boolean,
    bias: V | null,
    biasShape: number[] | null,
    activation: string,
    leakyreluAlpha: number,
  ): void;
  Step(out: V, x: V, alpha: number): void;
  LeakyRelu(out: V, x: V, alpha: number): void;
  ClipByValue(out: V, x: V, min: number, max: number): void;
  Cast(out: V, x: V): void; // to the output array's dtype
  Select(out: V, cond: V, condShape: Shape, t: V, tShape: Shape, e: V, eShape: Shape): void;
  ArgMax(out: V, x: V, xShape: number[], axis: number): void;
  ArgMin(out: V, x: V, xShape: number[], axis: number): void;
  Softmax(out: V, logits: V, shape: number[], dim: number): void;
  Transpose(out: V, x: V, shape: number[], perm: number[]): void;
  Tile(out: V, x: V, shape: number[], reps: number[]): void;
  GatherV2(out: V, x: V, xShape: number[], indices: Int32Array, axis: number): void;
}
