// The Tensor layer: the only code that talks to the addon. Everything above it (nn, optim,
// models, training) works with Tensor objects.
import { native } from '../native/binding.js';
import type { AnyTypedArray, NativeDtype, NativeTensor } from '../native/addon.js';
import { currentScope } from './scope.js';
import type { ScopedTensor } from './types.js';

export type Dtype = NativeDtype;
type TensorLike = Tensor | number;

export class Tensor implements ScopedTensor {
  /** The native handle. Internal: only the Tensor layer and tfjs kernels use it. */
  readonly h: NativeTensor;

  constructor(h: NativeTensor) {
    this.h = h;
    currentScope()?.tensors.add(this);
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
  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype})`;
  }

  // autograd
  get requiresGrad(): boolean {
    return native.requiresGrad(this.h);
  }
  set requiresGrad(on: boolean) {
    native.requiresGrad_(this.h, on);
  }
  requiresGrad_(on = true): this {
    native.requiresGrad_(this.h, on);
    return this;
  }
  /** The accumulated gradient, or null. A new handle each call: dispose it or read it in a scope. */
  get grad(): Tensor | null {
    const g = native.grad(this.h);
    return g ? new Tensor(g) : null;
  }
  zeroGrad(): void {
    native.zeroGrad_(this.h);
  }
  backward(gradient?: Tensor, retainGraph = false): void {
    native.backward(this.h, gradient?.h ?? null, retainGraph);
  }
  detach(): Tensor {
    return wrap(native.detach(this.h));
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
  neg(): Tensor {
    return wrap(native.neg(this.h));
  }
  abs(): Tensor {
    return wrap(native.abs(this.h));
  }
  exp(): Tensor {
    return wrap(native.exp(this.h));
  }
  log(): Tensor {
    return wrap(native.log(this.h));
  }
  sqrt(): Tensor {
    return wrap(native.sqrt(this.h));
  }
  square(): Tensor {
    return wrap(native.square(this.h));
  }
  relu(): Tensor {
    return wrap(native.relu(this.h));
  }
  sigmoid(): Tensor {
    return wrap(native.sigmoid(this.h));
  }
  tanh(): Tensor {
    return wrap(native.tanh(this.h));
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return wrap(native.clamp(this.h, min ?? null, max ?? null));
  }
  eq(o: TensorLike): Tensor {
    return typeof o === 'number' ? wrap(native.eqScalar(this.h, o)) : wrap(native.eq(this.h, o.h));
  }
  matmul(o: Tensor): Tensor {
    return wrap(native.matmul(this.h, o.h));
  }

  // reductions
  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? wrap(native.sum(this.h)) : wrap(native.sumDim(this.h, dims(dim), keepdim));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? wrap(native.mean(this.h)) : wrap(native.meanDim(this.h, dims(dim), keepdim));
  }
  max(): Tensor {
    return wrap(native.max(this.h));
  }
  min(): Tensor {
    return wrap(native.min(this.h));
  }
  argmax(dim: number, keepdim = false): Tensor {
    return wrap(native.argmax(this.h, dim, keepdim));
  }
  softmax(dim: number): Tensor {
    return wrap(native.softmax(this.h, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(native.logSoftmax(this.h, dim));
  }
  topk(k: number, dim = -1): [Tensor, Tensor] {
    const [v, i] = native.topk(this.h, k, dim);
    return [wrap(v), wrap(i)];
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
  transpose(d0: number, d1: number): Tensor {
    return wrap(native.transpose(this.h, d0, d1));
  }
  flatten(start = 0, end = -1): Tensor {
    return wrap(native.flatten(this.h, start, end));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(native.unsqueeze(this.h, dim));
  }
  squeeze(dim: number): Tensor {
    return wrap(native.squeeze(this.h, dim));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.narrow(this.h, dim, start, length));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(native.indexSelect(this.h, dim, index.h));
  }
  flip(...dimsToFlip: number[]): Tensor {
    return wrap(native.flip(this.h, dimsToFlip));
  }
  contiguous(): Tensor {
    return wrap(native.contiguous(this.h));
  }
  clone(): Tensor {
    return wrap(native.clone(this.h));
  }
  to(dtype: Dtype): Tensor {
    return wrap(native.to(this.h, dtype));
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
  div_(o: Tensor): this {
    native.div_(this.h, o.h);
    return this;
  }
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcmul_(this.h, t1.h, t2.h, value);
    return this;
  }
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcdiv_(this.h, t1.h, t2.h, value);
    return this;
  }
  lerp_(end: Tensor, weight: number): this {
    native.lerp_(this.h, end.h, weight);
    return this;
  }
  sqrt_(): this {
    native.sqrt_(this.h);
    return this;
  }
  maximum_(o: Tensor): this {
    native.maximum_(this.h, o.h);
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this.h, src.h);
    return this;
  }
  zero_(): this {
    native.zero_(this.h);
    return this;
  }
  fill_(v: number): this {
    native.fill_(this.h, v);
    return this;
  }
  uniform_(lo: number, hi: number): this {
    native.uniform_(this.h, lo, hi);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    native.normal_(this.h, mean, std);
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
