// A pickler for the values torch.save puts in a state dict, with the opcodes of protocol 2 that Python's pickle
// module emits for them (so Python's unpickler, and ours in pickle.ts, read them as Python would have written
// them). No memo: every value is written out where it occurs. Tensors become torch._utils._rebuild_tensor_v2
// calls whose storages are persistent ids ('storage', torch.<Type>Storage, key, 'cpu', numel), the bytes of
// each going to the archive's data/<key> record (pt-writer.ts).
//
// The JS value model is pickle.ts's: null is None, booleans are bools, integral numbers and bigints are ints
// (a number that is not integral or not a safe integer is a float), PyFloat is a float even when integral
// (1.0, -0.0), arrays are lists, PyTuple is a tuple, PyDict is a dict or an OrderedDict, and a plain object
// is a dict of str keys.
import type { AnyTypedArray, NativeDtype } from '../../native/types.js';
import { PyDict, PyFloat, PyTuple } from './pickle.js';

/** A tensor to pickle: its elements, contiguous and row-major. */
export interface TensorData {
  /** bfloat16 tensors are written widened to float32: JS reads them as a Float32Array. */
  dtype: Exclude<NativeDtype, 'bfloat16'>;
  shape: readonly number[];
  data: AnyTypedArray;
}

/** The storage class torch.save names for each dtype. */
const STORAGE_CLASS: Record<TensorData['dtype'], string> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

/** Deeper than this is a cycle, or a tree no optimizer state dict is. */
const MAX_DEPTH = 1000;
/** Python's pickle batches APPENDS and SETITEMS by 1000 items. */
const BATCH = 1000;

const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  BINFLOAT: 0x47,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  NONE: 0x4e,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d,
  APPEND: 0x61,
  GLOBAL: 0x63,
  APPENDS: 0x65,
  SETITEM: 0x73,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  EMPTY_DICT: 0x7d,
  EMPTY_TUPLE: 0x29,
  PROTO: 0x80,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
} as const;

/** A growing byte buffer. */
class Bytes {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;
  /** Where the next n bytes go. It may replace buf and view: read them only after calling it. */
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(2 * this.buf.length, this.length + n));
      bigger.set(this.buf.subarray(0, this.length));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  op(...codes: number[]): void {
    for (const c of codes) {
      const at = this.room(1);
      this.buf[at] = c;
    }
  }
  u16(v: number): void {
    const at = this.room(2);
    this.view.setUint16(at, v, true);
  }
  u32(v: number): void {
    const at = this.room(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.room(4);
    this.view.setInt32(at, v, true);
  }
  f64be(v: number): void {
    const at = this.room(8);
    this.view.setFloat64(at, v, false); // pickle's BINFLOAT is big-endian
  }
  raw(b: Uint8Array): void {
    const at = this.room(b.length);
    this.buf.set(b, at);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const utf8 = new TextEncoder();
/** A code point that UTF-8 cannot encode: half of a surrogate pair. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The minimal two's-complement little-endian bytes of v (pickle's encode_long), for v outside int32. */
function longBytes(v: bigint): Uint8Array {
  const out: number[] = [];
  for (;;) {
    const b = Number(BigInt.asUintN(8, v));
    out.push(b);
    v >>= 8n; // rounds toward -infinity, so a negative value ends at -1
    if ((v === 0n && !(b & 0x80)) || (v === -1n && b & 0x80)) return Uint8Array.from(out);
  }
}

/** What pickle() gives: the data.pkl bytes and the storages its persistent ids name, keys '0', '1', ... */
export interface Pickled {
  pickle: Uint8Array;
  storages: TensorData[];
}

/**
 * Pickles `value` (see the value model above). `tensorOf` says whether a value is a tensor, and gives its data.
 * Anything else throws a TypeError that names where in the value it is, e.g. `value['state'][0]['step']`.
 */
export function pickle(value: unknown, tensorOf: (v: unknown) => TensorData | undefined): Pickled {
  const out = new Bytes();
  const storages: TensorData[] = [];
  const storageKeys = new Map<unknown, string>(); // the same tensor twice shares its storage, as in Python
  const path: string[] = ['value'];

  const str = (s: string) => {
    if (LONE_SURROGATE.test(s)) throw new TypeError(`save: ${path.join('')} is a str with a lone surrogate`);
    const b = utf8.encode(s);
    out.op(OP.BINUNICODE);
    out.u32(b.length);
    out.raw(b);
  };
  const int = (v: number | bigint) => {
    if (v >= 0 && v <= 0xff) out.op(OP.BININT1, Number(v));
    else if (v >= 0 && v <= 0xffff) {
      out.op(OP.BININT2);
      out.u16(Number(v));
    } else if (v >= -0x80000000 && v <= 0x7fffffff) {
      out.op(OP.BININT);
      out.i32(Number(v));
    } else {
      const b = longBytes(BigInt(v));
      if (b.length < 256) out.op(OP.LONG1, b.length);
      else {
        out.op(OP.LONG4);
        out.i32(b.length);
      }
      out.raw(b);
    }
  };
  const float = (v: number) => {
    out.op(OP.BINFLOAT);
    out.f64be(v);
  };
  const global = (module: string, name: string) => {
    out.op(OP.GLOBAL);
    out.raw(utf8.encode(`${module}\n${name}\n`));
  };
  const tuple = (items: readonly unknown[], write: (v: unknown, i: number) => void) => {
    if (items.length === 0) return out.op(OP.EMPTY_TUPLE);
    if (items.length > 3) out.op(OP.MARK);
    items.forEach(write);
    out.op(items.length > 3 ? OP.TUPLE : [OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length - 1]);
  };
  /** APPEND / SETITEM for one item, MARK ... APPENDS / SETITEMS for more, in batches (Python's _batch_appends). */
  const batched = <T>(items: T[], one: number, many: number, write: (item: T) => void) => {
    for (let i = 0; i < items.length; i += BATCH) {
      const batch = items.slice(i, i + BATCH);
      if (batch.length > 1) out.op(OP.MARK);
      batch.forEach(write);
      out.op(batch.length > 1 ? many : one);
    }
  };
  const dictItems = (entries: [unknown, unknown][], depth: number) =>
    batched(entries, OP.SETITEM, OP.SETITEMS, ([k, v]) => {
      const keyType = k === null ? 'None' : typeof k;
      if (
        !['None', 'string', 'bigint', 'boolean'].includes(keyType) &&
        !(typeof k === 'number' && Number.isSafeInteger(k))
      )
        throw new TypeError(`save: ${path.join('')} has a key that is not a str, int, bool or None`);
      write(k, depth);
      path.push(`[${typeof k === 'string' ? `'${k}'` : String(k)}]`);
      write(v, depth);
      path.pop();
    });
  const tensor = (t: TensorData, v: unknown) => {
    let key = storageKeys.get(v);
    if (key === undefined) {
      key = String(storages.length);
      storageKeys.set(v, key);
      storages.push(t);
    }
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel)
      throw new TypeError(`save: ${path.join('')} has ${t.data.length} elements for shape [${t.shape.join(', ')}]`);
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    global('torch._utils', '_rebuild_tensor_v2');
    out.op(OP.MARK, OP.MARK);
    str('storage');
    global('torch', STORAGE_CLASS[t.dtype]);
    str(key);
    str('cpu');
    int(numel);
    out.op(OP.TUPLE, OP.BINPERSID);
    int(0);
    tuple(t.shape, (s) => int(s as number));
    tuple(stride, (s) => int(s as number));
    out.op(OP.NEWFALSE);
    global('collections', 'OrderedDict');
    out.op(OP.EMPTY_TUPLE, OP.REDUCE, OP.TUPLE, OP.REDUCE);
  };

  const write = (v: unknown, depth: number): void => {
    if (v === null) return out.op(OP.NONE);
    if (v === true) return out.op(OP.NEWTRUE);
    if (v === false) return out.op(OP.NEWFALSE);
    if (typeof v === 'number') return Number.isSafeInteger(v) ? int(v) : float(v);
    if (typeof v === 'bigint') return int(v);
    if (typeof v === 'string') return str(v);
    if (v instanceof PyFloat) return float(v.value);
    if (depth >= MAX_DEPTH)
      throw new TypeError(`save: ${path.slice(0, 6).join('')}... is nested ${MAX_DEPTH} deep (a cycle?)`);
    const inner = (x: unknown, i: number) => {
      path.push(`[${i}]`);
      write(x, depth + 1);
      path.pop();
    };
    if (v instanceof PyTuple) return tuple(v.items, inner);
    if (Array.isArray(v)) {
      out.op(OP.EMPTY_LIST);
      return batched(
        v.map((x, i) => [x, i] as const),
        OP.APPEND,
        OP.APPENDS,
        ([x, i]) => inner(x, i),
      );
    }
    if (v instanceof PyDict) {
      if (v.ordered) {
        global('collections', 'OrderedDict');
        out.op(OP.EMPTY_TUPLE, OP.REDUCE);
      } else out.op(OP.EMPTY_DICT);
      return dictItems([...v.entries()], depth + 1);
    }
    const t = tensorOf(v);
    if (t) return tensor(t, v);
    if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
      out.op(OP.EMPTY_DICT);
      return dictItems(Object.entries(v as object), depth + 1);
    }
    const what =
      v === undefined ? 'undefined' : `a ${typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v}`;
    throw new TypeError(
      `save: ${path.join('')} is ${what}, which cannot be saved (only dict, list, tuple, str, int, float, ` +
        'bool, None and tensors can)',
    );
  };

  out.op(OP.PROTO, 2);
  write(value, 0);
  out.op(OP.STOP);
  return { pickle: out.done(), storages };
}
