// Shared pieces of the torch backend's kernels: reading the values tfjs keeps for a tensor (the cpu backend's typed
// arrays, which the native side reads without copying), making outputs, and the fallback onto the cpu backend's own
// kernel whenever a call can't run natively (dtype, attribute, or a size too small to be worth the native call).
import { backend_util, getKernel, util } from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type {
  TfjsBinaryKernelName,
  TfjsConv2DGeometry,
  TfjsKernels,
  TfjsReduceKernelName,
  TfjsUnaryKernelName,
  TfjsValues,
} from '../native/addon.js';
import { native } from '../native/binding.js';
import type { BufferPool } from './buffer_pool.js';

export const TORCH = 'torch';

/** The native kernels; `native.tfjs` is checked once, when the backend registers. */
export function kernels(): TfjsKernels {
  return native.tfjs;
}

let minNativeSize = 256;
/**
 * Elementwise kernels, reductions and the like on fewer elements than this stay on the cpu backend's JS loops: below
 * ~256 elements they are as fast as the native call's fixed cost (~2 us per op either way), above it native wins
 * (README.md has the measurements). Convolutions, pooling and matrix products always go native.
 */
export function nativeThreshold(): number {
  return minNativeSize;
}
/** Changes the threshold (tests set 0 to run every size natively); returns the previous one. */
export function setNativeThreshold(n: number): number {
  const prev = minNativeSize;
  minNativeSize = n;
  return prev;
}

const counts = { native: new Map<string, number>(), cpu: new Map<string, number>() };
let fallbackShapes: Map<string, Set<string>> | null = null;

export interface KernelStats {
  /** Calls per kernel that ran natively. */
  native: Record<string, number>;
  /** Calls per kernel that fell back to the cpu backend's kernel. */
  cpu: Record<string, number>;
  /** With recordFallbackShapes(true): the distinct input dtypes and shapes of those fallbacks, per kernel. */
  cpuInputs?: Record<string, string[]>;
}
export function kernelStats(): KernelStats {
  const stats: KernelStats = { native: Object.fromEntries(counts.native), cpu: Object.fromEntries(counts.cpu) };
  if (fallbackShapes) stats.cpuInputs = Object.fromEntries([...fallbackShapes].map(([k, v]) => [k, [...v]]));
  return stats;
}
export function resetKernelStats(): void {
  counts.native.clear();
  counts.cpu.clear();
  fallbackShapes?.clear();
}
/** Also record what each fallback got (for finding what still runs on JS loops; off by default). */
export function recordFallbackShapes(on: boolean): void {
  fallbackShapes = on ? (fallbackShapes ?? new Map()) : null;
}

function describeInputs(inputs: Record<string, TensorInfo | undefined>): string {
  return Object.entries(inputs)
    .map(([name, t]) => (t ? `${name}: ${t.dtype}[${t.shape.join(',')}]` : `${name}: -`))
    .join(', ');
}

export interface TorchKernelArgs<I, A> {
  inputs: I;
  backend: MathBackendCPU;
  attrs: A;
}

/**
 * A kernel of the torch backend: `run` computes the output natively, or answers null when this call can't, and then
 * the cpu backend's kernel of the same name runs instead (on the same data: the two backends share their layout).
 */
export function torchKernel<I, A>(
  kernelName: string,
  run: (args: TorchKernelArgs<I, A>) => TensorInfo | TensorInfo[] | null,
): KernelConfig {
  let cpu: KernelFunc | undefined;
  const kernelFunc: KernelFunc = (args) => {
    const out = run(args as unknown as TorchKernelArgs<I, A>);
    if (out !== null) {
      counts.native.set(kernelName, (counts.native.get(kernelName) ?? 0) + 1);
      return out;
    }
    counts.cpu.set(kernelName, (counts.cpu.get(kernelName) ?? 0) + 1);
    if (fallbackShapes) {
      let seen = fallbackShapes.get(kernelName);
      if (!seen) fallbackShapes.set(kernelName, (seen = new Set()));
      seen.add(describeInputs(args.inputs));
    }
    if (!cpu) {
      const config = getKernel(kernelName, 'cpu');
      if (!config) throw new Error(`torch backend: no cpu kernel '${kernelName}' to fall back on`);
      cpu = config.kernelFunc;
    }
    return cpu(args);
  };
  return { kernelName, backendName: TORCH, kernelFunc };
}

const ARRAY_OF: Partial<Record<DataType, new (n: number) => TfjsValues>> = {
  float32: Float32Array,
  int32: Int32Array,
  bool: Uint8Array,
};

/** The typed array tfjs holds for t when the native side can read it (float32, int32 or bool), else null. */
export function values(backend: MathBackendCPU, t: TensorInfo): TfjsValues | null {
  const v = backend.data.get(t.dataId)?.values;
  const want = ARRAY_OF[t.dtype];
  return want !== undefined && v instanceof want ? (v as TfjsValues) : null;
}

/**
 * The typed array tfjs holds for t even when its type isn't the dtype's (the cpu kernel OneHot, for one, keeps int32
 * results in a Float32Array), for kernels that only move values and convert them on the way out. Null for others.
 */
export function anyValues(backend: MathBackendCPU, t: TensorInfo): TfjsValues | null {
  const v = backend.data.get(t.dataId)?.values;
  const ok = v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array;
  return ok && (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool') ? v : null;
}

/** Values for every tensor, or null when any of them can't go native. */
export function allValues(backend: MathBackendCPU, ts: TensorInfo[]): TfjsValues[] | null {
  const out: TfjsValues[] = [];
  for (const t of ts) {
    const v = values(backend, t);
    if (v === null) return null;
    out.push(v);
  }
  return out;
}

/** Runs `fill` (a native kernel) into a fresh output of that shape and dtype, and returns it as a backend tensor. */
export function nativeOutput(
  backend: MathBackendCPU,
  shape: number[],
  dtype: DataType,
  fill: (out: TfjsValues) => void,
): TensorInfo {
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new Error(`torch backend: no native output for dtype ${dtype}`);
  }
  const size = util.sizeFromShape(shape);
  const pool = (backend as { pool?: BufferPool }).pool;
  const out = pool ? pool.alloc(dtype, size) : new ARRAY_OF[dtype]!(size);
  fill(out);
  return backend.makeTensorInfo(shape, dtype, out);
}

export function isSmall(shape: number[]): boolean {
  return util.sizeFromShape(shape) < minNativeSize;
}

interface X {
  x: TensorInfo;
}

/** Elementwise float32 kernels with one input `x`; `call` passes the attributes on (default: none). */
export function unaryKernel<A = object>(
  kernelName: string,
  call: (out: TfjsValues, x: TfjsValues, attrs: A) => void = (out, x) =>
    kernels()[kernelName as TfjsUnaryKernelName](out, x),
): KernelConfig {
  return torchKernel<X, A>(kernelName, ({ inputs: { x }, backend, attrs }) => {
    if (x.dtype !== 'float32' || isSmall(x.shape)) return null;
    const xv = values(backend, x);
    return xv && nativeOutput(backend, x.shape, 'float32', (out) => call(out, xv, attrs));
  });
}

/**
 * Elementwise kernels of two inputs with numpy broadcasting, for inputs of one dtype among `dtypes`; the result has
 * that dtype, or `outDtype` (bool for comparisons).
 */
export function binaryKernel(kernelName: TfjsBinaryKernelName, dtypes: DataType[], outDtype?: DataType): KernelConfig {
  return torchKernel<{ a: TensorInfo; b: TensorInfo }, object>(kernelName, ({ inputs: { a, b }, backend }) => {
    if (a.dtype !== b.dtype || !dtypes.includes(a.dtype)) return null;
    const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (isSmall(shape)) return null;
    const av = values(backend, a);
    const bv = values(backend, b);
    if (!av || !bv) return null;
    const same = util.arraysEqual(a.shape, b.shape);
    return nativeOutput(backend, shape, outDtype ?? a.dtype, (out) =>
      kernels()[kernelName](out, same ? { a: av, b: bv } : { a: av, aShape: a.shape, b: bv, bShape: b.shape }),
    );
  });
}

/**
 * Reductions (Sum, Max, ...) over `axis` (Max's attribute is `reductionIndices`), for the listed input dtypes;
 * `outDtype` maps the input's dtype to the output's.
 */
export function reduceKernel(
  kernelName: TfjsReduceKernelName,
  dtypes: DataType[],
  outDtype: (x: DataType) => DataType = (x) => x,
): KernelConfig {
  return torchKernel<X, { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean }>(
    kernelName,
    ({ inputs: { x }, backend, attrs }) => {
      if (!dtypes.includes(x.dtype) || isSmall(x.shape)) return null;
      const axes = util.parseAxisParam((attrs.reductionIndices ?? attrs.axis)!, x.shape); // Max: reductionIndices
      if (axes.length === 0) return null; // nothing to reduce: the cpu kernel's copy
      const xv = values(backend, x);
      if (!xv) return null;
      const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
      const shape = attrs.keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
      return nativeOutput(backend, shape, outDtype(x.dtype), (out) =>
        kernels()[kernelName](out, { x: xv, xShape: x.shape, axes }),
      );
    },
  );
}

/** libtorch's output size of a conv/pool along one axis (floor rounding, explicit pads). */
function torchOutSize(inSize: number, filter: number, stride: number, dilation: number, before: number, after: number) {
  return Math.floor((inSize + before + after - dilation * (filter - 1) - 1) / stride) + 1;
}

/** The native conv/pool geometry (what every conv/pool kernel's attrs hold). */
export type ConvPlan = TfjsConv2DGeometry;

type Shape4 = [number, number, number, number];
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * tfjs's own conv geometry for an input and a filter shape (HWIO; depthwise: [fh, fw, inC, multiplier]) under a
 * kernel's attributes.
 */
export function conv2DInfo(
  xShape: number[],
  filterShape: number[],
  a: ConvAttrs,
  depthwise = false,
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    depthwise,
    backend_util.convertConv2DDataFormat(a.dataFormat ?? 'NHWC'),
  );
}

/** tfjs's own pooling geometry (NHWC) under a pool kernel's attributes. */
export function pool2DInfo(
  xShape: number[],
  a: ConvAttrs & { filterSize: number | [number, number] },
): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(xShape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
}

/**
 * The native conv/pool arguments for tfjs's conv info, or null when libtorch would not produce tfjs's output size
 * (e.g. dimRoundingMode 'ceil' or 'round' rounding up): then the cpu kernel runs. A depthwise convolution is a grouped
 * one, groups = inC (and the filter's shape goes with it: nativeFilterShape()).
 */
export function convPlan(info: backend_util.Conv2DInfo, depthwise = false): ConvPlan | null {
  const { top, bottom, left, right } = info.padInfo;
  if (Math.min(top, bottom, left, right) < 0) return null;
  if (Math.min(info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outChannels) <= 0) return null;
  const h = torchOutSize(info.inHeight, info.filterHeight, info.strideHeight, info.dilationHeight, top, bottom);
  const w = torchOutSize(info.inWidth, info.filterWidth, info.strideWidth, info.dilationWidth, left, right);
  if (h !== info.outHeight || w !== info.outWidth || h <= 0 || w <= 0) return null;
  return {
    strides: [info.strideHeight, info.strideWidth],
    pads: [top, bottom, left, right],
    dilations: [info.dilationHeight, info.dilationWidth],
    channelsLast: info.dataFormat === 'channelsLast',
    ...(depthwise ? { groups: info.inChannels } : {}),
  };
}

/**
 * The filter's shape as the native side reads it: HWIO as it is, and a depthwise filter [fh, fw, inC, multiplier] as
 * the grouped HWIO [fh, fw, 1, inC * multiplier] (the same data: output channel c * multiplier + m, as in tfjs).
 */
export function nativeFilterShape(filterShape: number[], depthwise: boolean): number[] {
  const [fh, fw, inC, m] = filterShape;
  return depthwise ? [fh, fw, 1, inC * m] : filterShape;
}

const allOnes = (v: number | number[] | undefined) => v == null || [v].flat().every((d) => d === 1);

/**
 * Whether a depthwise kernel call is one the cpu kernel computes as documented, so that the native kernel may give the
 * same answer: NHWC (the cpu kernels read x as NHWC whatever dataFormat says), the filter's inC equal to x's channels
 * (the cpu kernels don't check), strides or dilations 1 (the cpu kernel throws tfjs's error otherwise) and, for the
 * gradients, dilations 1 (their cpu loops ignore dilations; tfjs's gradient only calls them so).
 */
function depthwiseOk(xShape: number[], filterShape: number[], a: ConvAttrs, gradient: boolean): boolean {
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || xShape.length !== 4 || filterShape.length !== 4) return false;
  if (filterShape[2] !== xShape[3]) return false;
  if (gradient) return allOnes(a.dilations);
  return backend_util.eitherStridesOrDilationsAreOne(a.strides, a.dilations ?? 1);
}

type ConvKernelName = 'Conv2D' | 'FusedConv2D' | 'DepthwiseConv2dNative' | 'FusedDepthwiseConv2D';
interface ConvKernelAttrs extends ConvAttrs {
  activation?: string;
  leakyreluAlpha?: number;
}

/**
 * Conv2D, DepthwiseConv2dNative and their fused twins (conv + bias + activation, what tfjs-layers runs outside of
 * gradient recording): NHWC (or, not depthwise, NCHW) input, HWIO or depthwise filter. The input is viewed as a
 * channels_last NCHW tensor (no copy); a depthwise convolution is libtorch's grouped one with groups = inC.
 */
export function convKernel(
  kernelName: ConvKernelName,
  { depthwise, fused }: { depthwise: boolean; fused: boolean },
): KernelConfig {
  return torchKernel<{ x: TensorInfo; filter: TensorInfo; bias?: TensorInfo }, ConvKernelAttrs>(
    kernelName,
    ({ inputs: { x, filter, bias }, backend, attrs }) => {
      if (x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
      if (depthwise && !depthwiseOk(x.shape, filter.shape, attrs, false)) return null;
      const activation = fused ? attrs.activation! : 'linear';
      if (!NATIVE_ACTIVATIONS.has(activation)) return null; // prelu: the cpu kernel
      const withBias = fused && bias != null;
      if (withBias && bias.dtype !== 'float32') return null;
      const info = conv2DInfo(x.shape, filter.shape, attrs, depthwise);
      const plan = convPlan(info, depthwise);
      const v = plan && allValues(backend, withBias ? [x, filter, bias] : [x, filter]);
      if (!plan || !v) return null;
      const filterShape = nativeFilterShape(filter.shape, depthwise);
      const call = { x: v[0], xShape: x.shape, filter: v[1], filterShape, ...plan };
      if (!fused) {
        return nativeOutput(backend, info.outShape, 'float32', (out) => kernels()[kernelName](out, call));
      }
      // As on the cpu backend: in NCHW, a 1-D bias is per channel.
      const channelBiasNCHW = withBias && attrs.dataFormat === 'NCHW' && bias.shape.length === 1 && bias.shape[0] !== 1;
      const biasShape = withBias ? (channelBiasNCHW ? [bias.shape[0], 1, 1] : bias.shape) : null;
      const shape = biasShape ? backend_util.assertAndGetBroadcastShape(info.outShape, biasShape) : info.outShape;
      return nativeOutput(backend, shape, 'float32', (out) =>
        kernels()[kernelName](out, {
          ...call,
          bias: withBias ? v[2] : null,
          biasShape,
          activation,
          leakyreluAlpha: attrs.leakyreluAlpha ?? 0.2,
        }),
      );
    },
  );
}

interface ConvBackpropAttrs extends ConvAttrs {
  filterShape?: number[];
  inputShape?: number[];
}

/**
 * The filter's gradient (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter): `at::convolution_backward` with
 * one output. tfjs's conv2d gradient has no dilations; the depthwise one only dilations 1.
 */
export function convBackpropFilterKernel(
  kernelName: 'Conv2DBackpropFilter' | 'DepthwiseConv2dNativeBackpropFilter',
  depthwise: boolean,
): KernelConfig {
  return torchKernel<{ x: TensorInfo; dy: TensorInfo }, ConvBackpropAttrs>(
    kernelName,
    ({ inputs: { x, dy }, backend, attrs }) => {
      if (x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
      const filterShape = attrs.filterShape!;
      if (depthwise && !depthwiseOk(x.shape, filterShape, attrs, true)) return null;
      const info = conv2DInfo(x.shape, filterShape, { ...attrs, dilations: 1 }, depthwise);
      const plan = convPlan(info, depthwise);
      const v = plan && util.arraysEqual(dy.shape, info.outShape) && allValues(backend, [x, dy]);
      if (!plan || !v) return null;
      return nativeOutput(backend, filterShape, 'float32', (out) =>
        kernels()[kernelName](out, {
          x: v[0],
          xShape: x.shape,
          dy: v[1],
          dyShape: dy.shape,
          filterShape: nativeFilterShape(filterShape, depthwise),
          ...plan,
        }),
      );
    },
  );
}

/** The input's gradient (Conv2DBackpropInput, also tfjs's conv2dTranspose; DepthwiseConv2dNativeBackpropInput). */
export function convBackpropInputKernel(
  kernelName: 'Conv2DBackpropInput' | 'DepthwiseConv2dNativeBackpropInput',
  depthwise: boolean,
): KernelConfig {
  return torchKernel<{ dy: TensorInfo; filter: TensorInfo }, ConvBackpropAttrs>(
    kernelName,
    ({ inputs: { dy, filter }, backend, attrs }) => {
      if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
      const inputShape = attrs.inputShape!;
      if (depthwise && !depthwiseOk(inputShape, filter.shape, attrs, true)) return null;
      const info = conv2DInfo(inputShape, filter.shape, { ...attrs, dilations: 1 }, depthwise);
      const plan = convPlan(info, depthwise);
      const v = plan && util.arraysEqual(dy.shape, info.outShape) && allValues(backend, [dy, filter]);
      if (!plan || !v) return null;
      return nativeOutput(backend, inputShape, 'float32', (out) =>
        kernels()[kernelName](out, {
          dy: v[0],
          dyShape: dy.shape,
          filter: v[1],
          filterShape: nativeFilterShape(filter.shape, depthwise),
          inputShape,
          ...plan,
        }),
      );
    },
  );
}

/** Activations that the native fused kernels apply (tfjs's 'prelu' needs its weights: the cpu kernel runs it). */
export const NATIVE_ACTIVATIONS: ReadonlySet<string> = new Set([
  'linear',
  'relu',
  'relu6',
  'elu',
  'sigmoid',
  'leakyrelu',
]);

/** ArgMax / ArgMin: the index of the first extreme value along one axis, as int32 (NaN skipped, as tfjs does). */
export function argReduceKernel(name: 'ArgMax' | 'ArgMin'): KernelConfig {
  return torchKernel<{ x: TensorInfo }, { axis: number | number[] }>(name, ({ inputs: { x }, backend, attrs }) => {
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || isSmall(x.shape)) return null;
    const axes = util.parseAxisParam(attrs.axis, x.shape);
    if (axes.length !== 1) return null;
    const xv = values(backend, x);
    if (!xv) return null;
    const [shape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    return nativeOutput(backend, shape, 'int32', (out) =>
      kernels()[name](out, { x: xv, xShape: x.shape, axis: axes[0] }),
    );
  });
}
