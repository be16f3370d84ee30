// torch.* functions: factories and free functions over Tensors.
import { readFileSync } from 'node:fs';
import { native } from '../native/binding.js';
import type { AnyTypedArray } from '../native/addon.js';
import { Tensor, wrap, asTypedArray, type Dtype } from './tensor.js';
import { readObject, readStateDict } from './serialization/pt.js';
import { PyDict } from './serialization/pickle.js';
import { writePt, type TensorData } from './serialization/pt-writer.js';

function shapeOf(data: unknown): number[] {
  const shape: number[] = [];
  let d: unknown = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0];
  }
  return shape;
}

/** torch.tensor: from a (nested) number array or a typed array (then give `shape`). */
export function tensor(
  data: number | number[] | number[][] | number[][][] | number[][][][] | AnyTypedArray,
  opts: { dtype?: Dtype; shape?: number[]; requiresGrad?: boolean } = {},
): Tensor {
  let flat: AnyTypedArray | number[];
  let shape: number[];
  if (typeof data === 'number') {
    flat = [data];
    shape = opts.shape ?? [];
  } else if (Array.isArray(data)) {
    shape = opts.shape ?? shapeOf(data);
    flat = (data as unknown[]).flat(Infinity) as number[];
  } else {
    flat = data;
    shape = opts.shape ?? [data.length];
  }
  const dtype = opts.dtype ?? (Array.isArray(flat) ? 'float32' : undefined);
  const t = wrap(native.fromTypedArray(asTypedArray(flat, dtype ?? 'float32'), shape, dtype));
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Copies a typed array into a tensor of `shape`; the dtype follows the array unless given. */
export function fromTypedArray(data: AnyTypedArray, shape: number[], dtype?: Dtype): Tensor {
  return wrap(native.fromTypedArray(data, shape, dtype));
}

type Factory = { dtype?: Dtype; requiresGrad?: boolean };
function made(t: Tensor, o: Factory): Tensor {
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}
export const zeros = (shape: number[], o: Factory = {}) => made(wrap(native.zeros(shape, o.dtype)), o);
export const ones = (shape: number[], o: Factory = {}) => made(wrap(native.ones(shape, o.dtype)), o);
export const empty = (shape: number[], o: Factory = {}) => made(wrap(native.empty(shape, o.dtype)), o);
export const full = (shape: number[], v: number, o: Factory = {}) => made(wrap(native.full(shape, v, o.dtype)), o);
export const randn = (shape: number[], o: Factory = {}) => made(wrap(native.randn(shape, o.dtype)), o);
export const rand = (shape: number[], o: Factory = {}) => made(wrap(native.rand(shape, o.dtype)), o);
export const randint = (low: number, high: number, shape: number[]) => wrap(native.randint(low, high, shape));
export const randperm = (n: number) => wrap(native.randperm(n));
export const arange = (start: number, end: number, step = 1, dtype: Dtype = 'int64') =>
  wrap(native.arange(start, end, step, dtype));
export const zerosLike = (t: Tensor) => zeros(t.shape, { dtype: t.dtype });

export const cat = (ts: Tensor[], dim = 0) =>
  wrap(
    native.cat(
      ts.map((t) => t.h),
      dim,
    ),
  );
export const stack = (ts: Tensor[], dim = 0) =>
  wrap(
    native.stack(
      ts.map((t) => t.h),
      dim,
    ),
  );
export const where = (cond: Tensor, a: Tensor, b: Tensor) => wrap(native.where(cond.h, a.h, b.h));
export const maximum = (a: Tensor, b: Tensor) => wrap(native.maximum(a.h, b.h));
export const matmul = (a: Tensor, b: Tensor) => a.matmul(b);

/** Turns autograd recording off inside `fn` (torch.no_grad). */
export function noGrad<R>(fn: () => R): R {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/**
 * Runs `fn` under CPU autocast (torch.autocast('cpu', dtype=torch.bfloat16)): convolutions, linear layers and
 * matrix products compute in bfloat16, the ops that need range (reductions, losses, BatchNorm's statistics) stay
 * float32, and the weights stay float32. Outputs may be bfloat16: call `.float()` on logits before the loss.
 * `fn` must be synchronous: the state is per thread and would leak across an await.
 */
export function autocast<R>(opts: { dtype?: 'bfloat16'; enabled?: boolean }, fn: () => R): R {
  const [prevOn, prevDtype] = native.autocastEnter(opts.enabled ?? true, opts.dtype ?? 'bfloat16');
  try {
    return fn();
  } finally {
    native.autocastExit(prevOn, prevDtype);
  }
}
/** Whether CPU autocast is on here (torch.is_autocast_cpu_enabled()). */
export const isAutocastEnabled = () => native.isAutocastEnabled();

export const manualSeed = (seed: number) => native.manualSeed(seed);
/** The default generator's state (torch.get_rng_state()): bytes that setRngState puts back, for checkpoints. */
export const getRngState = (): Uint8Array => new Uint8Array(native.getRngState());
export const setRngState = (state: Uint8Array) => native.setRngState(state);
export const setNumThreads = (n: number) => native.setNumThreads(n);
export const getNumThreads = () => native.getNumThreads();
export const libtorchVersion = native.libtorchVersion;

const tensorData = (v: unknown): TensorData | undefined =>
  v instanceof Tensor
    ? { dtype: v.dtype === 'bfloat16' ? 'float32' : v.dtype, shape: v.shape, data: v.dataSync() }
    : undefined;

/**
 * torch.save, to bytes: a tree of dicts (PyDict, or plain objects for str keys), lists (arrays), tuples
 * (PyTuple), str, int (integral numbers, bigints), float (other numbers; PyFloat for 1.0 or -0.0), bool, None
 * (null) and Tensors, in the zip format that Python's torch.load reads (and torch.loadObject). A value of any
 * other type is a TypeError naming where it is in the tree.
 */
export function save(value: unknown): Buffer {
  const b = writePt(value, tensorData);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Writes a state dict (name -> tensor) as a dict, in the zip/pickle format that Python's torch.load reads. */
export function saveStateDict(sd: Map<string, Tensor>): Buffer {
  return save(PyDict.of(sd));
}

/**
 * torch.load of a tree with tensor leaves (what save writes, or Python's torch.save of an optimizer's
 * state_dict()): dicts come back as PyDict, lists as arrays, tuples as PyTuple, floats as PyFloat, ints as numbers
 * (bigints past 2^53), None as null, tensors as Tensors in the current dispose scope (the caller owns them). Read
 * by the same allowlisted TypeScript reader as loadStateDict; `name` (the file) starts every error message.
 */
export function loadObject(bytes: Uint8Array, name = 'object'): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('loadObject: argument 0 must be a Buffer or Uint8Array');
  const made: Tensor[] = [];
  try {
    return readObject(bytes, name, (t) => {
      const x = fromTypedArray(t.data, t.shape, t.dtype);
      made.push(x);
      return x;
    });
  } catch (e) {
    made.forEach((t) => t.dispose());
    throw e;
  }
}

/**
 * Reads a state dict (name -> tensor) from the bytes of a .pt file: Python's torch.save of a dict or of
 * model.state_dict() (an OrderedDict), in the zip or the legacy format, or our own saveStateDict. Parsed in
 * TypeScript (serialization/pt.ts), never unpickled by Python or libtorch: only PyTorch's tensor-rebuilding
 * globals are allowed. float16/bfloat16 load as float32, int8/int16 as int32. `name` (the file) starts every
 * error message; a bad file is a PtFormatError.
 */
export function loadStateDict(bytes: Uint8Array, name = 'state dict'): Map<string, Tensor> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('loadStateDict: argument 0 must be a Buffer or Uint8Array');
  const sd = new Map<string, Tensor>();
  try {
    for (const [k, t] of readStateDict(bytes, name).tensors) sd.set(k, fromTypedArray(t.data, t.shape, t.dtype));
  } catch (e) {
    sd.forEach((t) => t.dispose());
    throw e;
  }
  return sd;
}

/** torch.load for state dicts: loadStateDict of the file at `path`, with the path in every error. */
export function load(path: string): Map<string, Tensor> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'ENOENT' ? 'file not found' : (e as Error).message}`, { cause: e });
  }
  return loadStateDict(bytes, path);
}

let ticks = 0;
const TRIM_EVERY = Number(process.env.FMNIST_TRIM_EVERY ?? 4);

/**
 * Call every few steps of a long loop of tensor work (docs/memory.md, rules 8 and 9). It lets
 * Node run the finalizers of freed handles: Node 20 defers N-API finalizers to the event loop,
 * and until they run, the freed tensors' memory is not reused. It also returns free heap pages
 * to the kernel: glibc otherwise keeps the holes that activations of many sizes leave behind.
 */
export async function tick(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (TRIM_EVERY > 0 && ++ticks % TRIM_EVERY === 0) native.mallocTrim();
}
