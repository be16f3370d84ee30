// The addon's interface, typed once (the one .d.ts of the native layer). Only src/torch/ (the Tensor layer) and the tfjs
// backend's kernels import it. Mirrors the op tables in native/ops.cc.

export interface NativeTensor {
  dispose(): void;
  readonly isDisposed: boolean;
}
type T = NativeTensor;
type OptT = NativeTensor | null | undefined;
export type NativeDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';
export type Reduction = 'mean' | 'sum' | 'none';
export type AnyTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface Binding {
  readonly libtorchVersion: string;
  NativeTensor: unknown;
  // factories
  zeros(shape: number[], dtype?: NativeDtype): T;
  ones(shape: number[], dtype?: NativeDtype): T;
  empty(shape: number[], dtype?: NativeDtype): T;
  full(shape: number[], value: number, dtype?: NativeDtype): T;
  randn(shape: number[], dtype?: NativeDtype): T;
  rand(shape: number[], dtype?: NativeDtype): T;
  randint(low: number, high: number, shape: number[]): T;
  randperm(n: number): T;
  arange(start: number, end: number, step?: number, dtype?: NativeDtype): T;
  fromTypedArray(data: AnyTypedArray, shape: number[], dtype?: NativeDtype): T;
  // elementwise
  add(a: T, b: T, alpha?: number): T;
  sub(a: T, b: T, alpha?: number): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  addScalar(a: T, s: number): T;
  mulScalar(a: T, s: number): T;
  divScalar(a: T, s: number): T;
  rsubScalar(a: T, s: number): T;
  powScalar(a: T, e: number): T;
  pow(a: T, e: T): T;
  maximum(a: T, b: T): T;
  minimum(a: T, b: T): T;
  neg(a: T): T;
  abs(a: T): T;
  exp(a: T): T;
  log(a: T): T;
  sqrt(a: T): T;
  rsqrt(a: T): T;
  square(a: T): T;
  sign(a: T): T;
  relu(a: T): T;
  leakyRelu(a: T, slope?: number): T;
  gelu(a: T): T;
  sigmoid(a: T): T;
  tanh(a: T): T;
  clamp(a: T, min?: number | null, max?: number | null): T;
  where(cond: T, a: T, b: T): T;
  eq(a: T, b: T): T;
  eqScalar(a: T, s: number): T;
  gt(a: T, b: T): T;
  gtScalar(a: T, s: number): T;
  ltScalar(a: T, s: number): T;
  // reductions
  sum(a: T): T;
  sumDim(a: T, dims: number[], keepdim?: boolean): T;
  mean(a: T): T;
  meanDim(a: T, dims: number[], keepdim?: boolean): T;
  varDim(a: T, dims: number[], unbiased?: boolean, keepdim?: boolean): T;
  max(a: T): T;
  min(a: T): T;
  maxDim(a: T, dim: number, keepdim?: boolean): [T, T];
  topk(a: T, k: number, dim?: number): [T, T];
  argmax(a: T, dim: number, keepdim?: boolean): T;
  softmax(a: T, dim: number): T;
  logSoftmax(a: T, dim: number): T;
  // shape and copies
  reshape(a: T, shape: number[]): T;
  view(a: T, shape: number[]): T;
  permute(a: T, dims: number[]): T;
  transpose(a: T, d0: number, d1: number): T;
  flatten(a: T, start?: number, end?: number): T;
  squeeze(a: T, dim: number): T;
  unsqueeze(a: T, dim: number): T;
  expand(a: T, shape: number[]): T;
  narrow(a: T, dim: number, start: number, length: number): T;
  select(a: T, dim: number, index: number): T;
  contiguous(a: T): T;
  clone(a: T): T;
  detach(a: T): T;
  to(a: T, dtype: NativeDtype): T;
  cat(ts: T[], dim?: number): T;
  stack(ts: T[], dim?: number): T;
  indexSelect(a: T, dim: number, index: T): T;
  gather(a: T, dim: number, index: T): T;
  flip(a: T, dims: number[]): T;
  roll(a: T, shifts: number[], dims: number[]): T;
  pad(a: T, pads: number[], value?: number): T;
  // nn
  matmul(a: T, b: T): T;
  linear(x: T, w: T, b?: OptT): T;
  conv2d(x: T, w: T, b: OptT, stride: number[], padding: number[], dilation: number[], groups?: number): T;
  maxPool2d(x: T, kernel: number[], stride: number[], padding: number[], dilation: number[], ceilMode?: boolean): T;
  avgPool2d(x: T, kernel: number[], stride: number[], padding: number[], ceilMode?: boolean, countIncludePad?: boolean): T;
  adaptiveAvgPool2d(x: T, outputSize: number[]): T;
  batchNorm(x: T, w: OptT, b: OptT, runMean: OptT, runVar: OptT, training: boolean, momentum: number, eps: number): T;
  dropout(x: T, p: number, training: boolean): T;
  crossEntropy(
    input: T,
    target: T,
    weight: OptT,
    reduction: Reduction,
    ignoreIndex: number,
    labelSmoothing: number,
  ): T;
  nllLoss(input: T, target: T, weight: OptT, reduction: Reduction, ignoreIndex: number): T;
  mseLoss(input: T, target: T, reduction: Reduction): T;
  // autograd
  grad(a: T): T | null;
  requiresGrad(a: T): boolean;
  requiresGrad_(a: T, on: boolean): T;
  zeroGrad_(a: T): T;
  backward(a: T, grad?: OptT, retainGraph?: boolean): T;
  setGradEnabled(on: boolean): boolean;
  // in place
  add_(a: T, b: T, alpha?: number): T;
  addScalar_(a: T, s: number): T;
  mul_(a: T, b: T): T;
  mulScalar_(a: T, s: number): T;
  div_(a: T, b: T): T;
  addcmul_(a: T, t1: T, t2: T, value?: number): T;
  addcdiv_(a: T, t1: T, t2: T, value?: number): T;
  lerp_(a: T, end: T, weight: number): T;
  sqrt_(a: T): T;
  maximum_(a: T, b: T): T;
  copy_(a: T, src: T): T;
  zero_(a: T): T;
  fill_(a: T, v: number): T;
  uniform_(a: T, lo: number, hi: number): T;
  normal_(a: T, mean: number, std: number): T;
  // readers and state
  shape(a: T): number[];
  dtype(a: T): NativeDtype;
  item(a: T): number;
  toTypedArray(a: T): AnyTypedArray;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  mallocTrim(): boolean;
  // serialization
  pickleSave(names: string[], tensors: T[]): Buffer;
  pickleLoad(bytes: Buffer): { names: string[]; tensors: T[] };

  // ---- tfjs backend kernels (native/tfjs_kernels.cc, used by src/tfjs-backend) ----
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
  Conv2DBackpropFilter(out: V, attrs: TfjsConv2DBackpropFilterAttrs): void;
  Conv2DBackpropInput(out: V, attrs: TfjsConv2DBackpropInputAttrs): void;
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
}
