// Recycles the memory of the native kernels' outputs. A training step makes ~60 MB of activations and gradients; left
// to V8, that garbage cost a full mark-compact about once per step and ~25% of the step's time. Here the memory of a
// disposed tensor goes back to a free list and the next output of the same size reuses it.
//
// Safety: memory is reused only when nothing else can still see it. A tensor's array is recycled when that tensor is
// disposed, and only if (1) no other tensor was ever made over the same memory (a cpu kernel that shares its input's
// array, or a subarray of it, under a new tensor), and (2) the array never left the backend: read()/readSync() (what
// dataSync(), data(), arraySync() and the cpu kernels' bufferSync() use) mark it escaped, and escaped memory is left to
// the garbage collector like any other array, so a caller that keeps a dataSync() result keeps valid data.
import type { TfjsValues } from '../native/addon.js';

export type PooledDtype = 'float32' | 'int32' | 'bool';

const BYTES_PER_ELEMENT: Record<PooledDtype, number> = { float32: 4, int32: 4, bool: 1 };
const ARRAY: Record<
  PooledDtype,
  { new (n: number): TfjsValues; new (b: ArrayBuffer, o: number, n: number): TfjsValues }
> = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };

/** Arrays smaller than this are plain `new Float32Array(n)`: V8 allocates those about as fast as a free list would. */
const MIN_POOLED_BYTES = 4096;
/** At most this much free memory is kept for reuse; what would exceed it is left to the garbage collector. */
const MAX_FREE_BYTES = 256 * 1024 * 1024;

interface Entry {
  owner: TfjsValues;
  refs: number;
  escaped: boolean;
}

export class BufferPool {
  private readonly entries = new WeakMap<ArrayBufferLike, Entry>();
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;
  readonly stats = { allocated: 0, reused: 0, recycled: 0, escaped: 0 };

  /**
   * An output array for a native kernel: recycled memory of the same size if there is some, else fresh memory from
   * Buffer.allocUnsafeSlow (V8-owned, not zero-filled: the kernel writes every element).
   */
  alloc(dtype: PooledDtype, size: number): TfjsValues {
    const bytes = size * BYTES_PER_ELEMENT[dtype];
    if (bytes < MIN_POOLED_BYTES) return new ARRAY[dtype](size);
    let buffer = this.free.get(bytes)?.pop();
    if (buffer) {
      this.freeBytes -= bytes;
      this.stats.reused++;
    } else {
      buffer = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
      this.stats.allocated++;
    }
    const view = new ARRAY[dtype](buffer, 0, size);
    this.entries.set(buffer, { owner: view, refs: 0, escaped: false });
    return view;
  }

  /** A tensor of the backend now holds `values` (called from write/move). */
  attach(values: unknown): void {
    const e = this.entry(values);
    if (e && (values !== e.owner || ++e.refs > 1)) this.markEscaped(e);
  }

  /** `values` leaves the backend (a read): from now on the garbage collector decides when its memory is free. */
  escape(values: unknown): void {
    const e = this.entry(values);
    if (e) this.markEscaped(e);
  }

  /** The tensor holding `values` was disposed: its memory is reused unless it escaped or is shared. */
  release(values: unknown): void {
    const e = this.entry(values);
    if (!e || --e.refs > 0 || e.escaped) return;
    const buffer = e.owner.buffer as ArrayBuffer;
    this.entries.delete(buffer);
    if (this.freeBytes + buffer.byteLength > MAX_FREE_BYTES) return;
    let list = this.free.get(buffer.byteLength);
    if (!list) this.free.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.freeBytes += buffer.byteLength;
    this.stats.recycled++;
  }

  /** Drops the free memory (the arrays in use stay valid). */
  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  get freeMegabytes(): number {
    return this.freeBytes / (1024 * 1024);
  }

  private markEscaped(e: Entry): void {
    if (!e.escaped) this.stats.escaped++;
    e.escaped = true;
  }

  private entry(values: unknown): Entry | undefined {
    return ArrayBuffer.isView(values) ? this.entries.get(values.buffer) : undefined;
  }
}
