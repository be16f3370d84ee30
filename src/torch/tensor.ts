// The Tensor layer: the only code that talks to the addon. Everything above it (nn, optim,
// models, training) works with Tensor objects.
import { native } from '../native/binding.js';
import type { AnyTypedArray, NativeDtype, NativeTensor } from '../native/types.js';
import { currentScope } from './scope.js';
import { TensorOps } from './tensor.generated.js';
import type { ScopedTensor } from './types.js';

export type Dtype = NativeDtype;
type TensorLike = Tensor | number;
/** PyTorch's memory formats for 4-D tensors: NCHW (`torch.contiguous_format`) or NHWC (`torch.channels_last`). */
export type MemoryFormat = 'contiguousFormat' | 'channelsLast';
export const contiguousFormat: MemoryFormat = 'contiguousFormat';
export const channelsLast: MemoryFormat = 'channelsLast';

// Tensors made and not yet disposed, for leak checks (bench/soak.ts): the analogue of tf.memory().numTensors. A
// wrapper that only the finalizer frees still counts, as in tfjs: it is a tensor nobody disposed (docs/memory.md).
let live = 0;

/** How many Tensors have been made and not disposed (freed by the finalizer alone still counts). */
export function liveTensors(): number {
  return live;
}

/**
 * A libtorch tensor. The methods that are one addon op each come from TensorOps (generated from
 * scripts/gen-ops/ops.spec); the ones here add overloads (a number or a tensor), rest parameters or JS values.
 */
export class Tensor extends TensorOps<Tensor> implements ScopedTensor {
  /** The native handle. Internal: only the Tensor layer and tfjs kernels use it. */
  override readonly h: NativeTensor;
  // a JS flag, not h.isDisposed: one native call less per dispose, and a second dispose() counts once
  #counted = true;

  constructor(h: NativeTensor) {
    super();
    this.h = h;
    live++;
    currentScope()?.tensors.add(this);
  }
  protected override fromHandle(h: NativeTensor): Tensor {
    return new Tensor(h);
  }

  get shape(): number[] {
    return native.shape(this.h);
  }
  get dtype(): Dtype {
    return native.dtype(this.h);
  }
  get ndim(): number {
    return this.shape.length;
  }
  numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get isDisposed(): boolean {
    return this.h.isDisposed;
  }
  dispose(): void {
    if (this.#counted) {
      this.#counted = false;
      live--;
    }
    this.h.dispose();
  }

  // readers
  item(): number {
    return native.item(this.h);
  }
  dataSync(): AnyTypedArray {
    return native.toTypedArray(this.h);
  }
  /** Float32 values (converting other dtypes). */
  toFloat32(): Float32Array {
    if (this.dtype === 'float32') return native.toTypedArray(this.h) as Float32Array;
    const t = wrap(native.to(this.h, 'float32'));
    try {
      return native.toTypedArray(t.h) as Float32Array;
    } finally {
      t.dispose();
    }
  }
  tolist(): number[] {
    return Array.from(this.toFloat32());
  }
  override toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype})`;
  }

  // autograd
  get requiresGrad(): boolean {
    return native.requiresGrad(this.h);
  }
  set requiresGrad(on: boolean) {
    native.requiresGrad_(this.h, on);
  }
  /** The accumulated gradient, or null. A new handle each call: dispose it or read it in a scope. */
  get grad(): Tensor | null {
    const g = native.grad(this.h);
    return g ? new Tensor(g) : null;
  }

  // math
  add(o: TensorLike, alpha = 1): Tensor {
    return typeof o === 'number' ? wrap(native.addScalar(this.h, o * alpha)) : wrap(native.add(this.h, o.h, alpha));
  }
  sub(o: TensorLike, alpha = 1): Tensor {
    return typeof o === 'number' ? wrap(native.addScalar(this.h, -o * alpha)) : wrap(native.sub(this.h, o.h, alpha));
  }
  mul(o: TensorLike): Tensor {
    return typeof o === 'number' ? wrap(native.mulScalar(this.h, o)) : wrap(native.mul(this.h, o.h));
  }
  div(o: TensorLike): Tensor {
    return typeof o === 'number' ? wrap(native.divScalar(this.h, o)) : wrap(native.div(this.h, o.h));
  }
  pow(e: TensorLike): Tensor {
    return typeof e === 'number' ? wrap(native.powScalar(this.h, e)) : wrap(native.pow(this.h, e.h));
  }
  eq(o: TensorLike): Tensor {
    return typeof o === 'number' ? wrap(native.eqScalar(this.h, o)) : wrap(native.eq(this.h, o.h));
  }

  // reductions
  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? wrap(native.sum(this.h)) : wrap(native.sumDim(this.h, dims(dim), keepdim));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? wrap(native.mean(this.h)) : wrap(native.meanDim(this.h, dims(dim), keepdim));
  }
  /** Variance over `dim` (Bessel-corrected unless `unbiased` is false), as torch.var. */
  var(dim: number | number[], unbiased = true, keepdim = false): Tensor {
    return wrap(native.varDim(this.h, dims(dim), unbiased, keepdim));
  }

  // memory layout: the values never change, only how they are laid out (and so which kernels run)
  /** This tensor laid out in `memoryFormat`: itself when it already is, else a copy (x.contiguous(memory_format=)). */
  contiguous(memoryFormat: MemoryFormat = 'contiguousFormat'): Tensor {
    return wrap(native.contiguous(this.h, memoryFormat === 'channelsLast'));
  }
  /** Whether the tensor is laid out in `memoryFormat` (x.is_contiguous(memory_format=)). */
  isContiguous(memoryFormat: MemoryFormat = 'contiguousFormat'): boolean {
    const t = wrap(native.isContiguous(this.h, memoryFormat === 'channelsLast'));
    try {
      return t.item() !== 0;
    } finally {
      t.dispose();
    }
  }
  /** Replaces the values and layout behind this tensor, keeping its identity and autograd flags (`p.data = src`). */
  setData_(src: Tensor): this {
    native.setData_(this.h, src.h);
    return this;
  }

  // shape
  reshape(...shape: number[]): Tensor {
    return wrap(native.reshape(this.h, shape));
  }
  view(...shape: number[]): Tensor {
    return wrap(native.view(this.h, shape));
  }
  permute(...order: number[]): Tensor {
    return wrap(native.permute(this.h, order));
  }
  flip(...dimsToFlip: number[]): Tensor {
    return wrap(native.flip(this.h, dimsToFlip));
  }
  /** torch.roll: shifts the elements along each of `dim` by the matching shift, wrapping around. */
  roll(shifts: number | number[], dim: number | number[]): Tensor {
    return wrap(native.roll(this.h, dims(shifts), dims(dim)));
  }
  float(): Tensor {
    return this.to('float32');
  }
  long(): Tensor {
    return this.to('int64');
  }

  // in place (no new tensor; returns this)
  add_(o: TensorLike, alpha = 1): this {
    if (typeof o === 'number') native.addScalar_(this.h, o * alpha);
    else native.add_(this.h, o.h, alpha);
    return this;
  }
  mul_(o: TensorLike): this {
    if (typeof o === 'number') native.mulScalar_(this.h, o);
    else native.mul_(this.h, o.h);
    return this;
  }
}

function dims(d: number | number[]): number[] {
  return typeof d === 'number' ? [d] : d;
}

/** Wraps a native handle into a Tensor registered with the current dispose scope. */
export function wrap(h: NativeTensor): Tensor {
  return new Tensor(h);
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

export function asTypedArray(data: AnyTypedArray | number[], dtype: Dtype): AnyTypedArray {
  if (!Array.isArray(data)) return data;
  switch (dtype) {
    case 'float64':
      return Float64Array.from(data);
    case 'int32':
      return Int32Array.from(data);
    case 'int64':
      return BigInt64Array.from(data.map((v) => BigInt(Math.trunc(v))));
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data);
    default:
      return Float32Array.from(data);
  }
}
