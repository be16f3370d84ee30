// PyTorch .pt files, read in TypeScript: both of torch.save's formats, and torch::pickle_save's (fmnist's model.pt
// before pt-writer.ts). readStateDict reads a state dict (name -> tensor); readObject a tree of containers with
// tensor leaves (an optimizer's state_dict()). Pure parsing: no addon, nothing executed. The result is plain typed
// arrays; torch.loadStateDict and torch.loadObject (ops.ts) turn them into tensors.
//
//   zip (torch >= 1.6, and torch::pickle_save): <prefix>/data.pkl, one <prefix>/data/<key> record per storage,
//       <prefix>/version, and <prefix>/byteorder in newer files.
//   legacy (_use_new_zipfile_serialization=False): five pickles in a row (magic number, protocol version 1001,
//       sys info, the object with persistent ids, the storage keys), then each storage as an 8-byte
//       little-endian element count and its raw bytes.
//
// The pickle may name only the globals of ALLOWED: the ones PyTorch's weights_only=True unpickler allows for
// dense CPU tensors. Any other global is refused where it is named, before anything could use it.
import { endianness } from 'node:os';
import type { AnyTypedArray, NativeDtype } from '../../native/types.js';
import { PtFormatError, fail } from './errors.js';
import { PyDict, PyFloat, PyTuple, pyDescribe, pyTypeName, unpickle, type UnpickleHooks } from './pickle.js';
import { entryData, looksLikeZip, readZip, type ZipEntry } from './zip.js';

export { PtFormatError } from './errors.js';

/** The element types a storage may hold. */
export type StoredDtype =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/**
 * What each stored type becomes. fmnist's tensors have no 16-bit floats and no 8/16-bit signed ints, so those
 * widen to float32 / int32, which hold every such value exactly; the rest keep their type.
 */
export const LOADED_DTYPE: Record<StoredDtype, NativeDtype> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float32',
  bfloat16: 'float32',
  int64: 'int64',
  int32: 'int32',
  int16: 'int32',
  int8: 'int32',
  uint8: 'uint8',
  bool: 'bool',
};

const ELEMENT_SIZE: Record<StoredDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** One tensor of the file, gathered contiguous (row-major). */
export interface PtTensor {
  /** The tensor's type here (see LOADED_DTYPE), and the type the file stores. */
  dtype: NativeDtype;
  stored: StoredDtype;
  shape: number[];
  data: AnyTypedArray;
}

export interface PtStateDict {
  format: 'zip' | 'legacy';
  /** The file's top-level object: 'OrderedDict' (model.state_dict()) or 'dict'. */
  container: 'OrderedDict' | 'dict';
  /** Name -> tensor, in the file's order. */
  tensors: Map<string, PtTensor>;
}

// ---- the allowlist ----

type Global =
  | { kind: 'storage'; dtype: StoredDtype }
  | { kind: 'dtype'; dtype: string }
  | { kind: 'class' | 'function'; name: string };

/** A global the pickle named, as a marker: it is never Python, only a name we dispatch on. */
class PyGlobal {
  constructor(
    readonly name: string,
    readonly g: Global,
  ) {}
  describe() {
    return `global '${this.name}'`;
  }
}

const STORAGES: Record<string, StoredDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const ALLOWED = new Map<string, Global>([
  ['collections.OrderedDict', { kind: 'class', name: 'OrderedDict' }],
  ['torch._utils._rebuild_tensor', { kind: 'function', name: 'rebuild_tensor' }],
  ['torch._utils._rebuild_tensor_v2', { kind: 'function', name: 'rebuild_tensor_v2' }],
  ['torch._utils._rebuild_parameter', { kind: 'function', name: 'rebuild_parameter' }],
  ['torch._utils._rebuild_parameter_with_state', { kind: 'function', name: 'rebuild_parameter_with_state' }],
  ['torch._tensor._rebuild_from_type_v2', { kind: 'function', name: 'rebuild_from_type_v2' }],
  ['torch.nn.parameter.Parameter', { kind: 'class', name: 'Parameter' }],
  ['torch.Tensor', { kind: 'class', name: 'Tensor' }],
  ['torch.Size', { kind: 'class', name: 'Size' }],
  ['torch.device', { kind: 'class', name: 'device' }],
  // torch::pickle_save (our own model.pt) tags its dict with its TorchScript type: read as the identity.
  ['torch.jit._pickle.restore_type_tag', { kind: 'function', name: 'restore_type_tag' }],
  ...Object.entries(STORAGES).flatMap(([cls, dtype]): [string, Global][] => [
    [`torch.${cls}`, { kind: 'storage', dtype }],
    [`torch.cuda.${cls}`, { kind: 'storage', dtype }], // how older files name a CUDA tensor's storage
  ]),
  ['torch.UntypedStorage', { kind: 'storage', dtype: 'uint8' }],
  ['torch.storage.UntypedStorage', { kind: 'storage', dtype: 'uint8' }],
  ...['float16', 'float32', 'float64', 'bfloat16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool'].map(
    (d): [string, Global] => [`torch.${d}`, { kind: 'dtype', dtype: d }],
  ),
]);

/** A storage the pickle refers to by persistent id; its bytes come from the zip record or the legacy tail. */
class Storage {
  bytes: Uint8Array | null = null;
  /** Its elements, converted once (see elements()). */
  cache: ArrayLike<number | bigint> | null = null;
  constructor(
    readonly key: string,
    readonly dtype: StoredDtype,
    readonly numel: number,
    /** Legacy views of a bigger storage: the root and where this one starts in it, in elements. */
    readonly root: Storage | null = null,
    readonly viewOffset = 0,
  ) {}
  describe() {
    return 'storage';
  }
}

class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
  describe() {
    return 'tensor';
  }
}

class PyDevice {
  constructor(readonly name: string) {}
  describe() {
    return 'torch.device';
  }
}

const refused = (name: string) =>
  fail(
    `the pickle refers to '${name}', which fmnist does not load (it only reads state dicts: tensors, storages, ` +
      'OrderedDict and primitives). Save model.state_dict() instead.',
  );

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function ints(v: unknown, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items) return fail(`${what} is a ${pyTypeName(v)}, not a tuple of integers`);
  if (items.length > 64) fail(`${what} has ${items.length} dimensions (PyTorch allows 64)`);
  return items.map((x) => {
    if (!isInt(x) || x < 0) fail(`${what} holds ${isInt(x) ? x : `a ${pyTypeName(x)}`}, not a size >= 0`);
    return x;
  });
}

/** The element count of a shape; past 2^53 it is Infinity (never NaN, even with a 0 among huge sizes). */
function numelOf(size: readonly number[]): number {
  if (size.includes(0)) return 0;
  let n = 1;
  for (const s of size) n = Math.min(n * s, Infinity);
  return n > Number.MAX_SAFE_INTEGER ? Infinity : n;
}

function args(a: PyTuple, fn: string, counts: number[]): readonly unknown[] {
  if (!counts.includes(a.items.length))
    fail(`${fn} called with ${a.items.length} arguments (expected ${counts.join(' or ')})`);
  return a.items;
}

/** Backward hooks and tensor metadata: fine when empty (they always are in a state dict). */
function emptyOrNone(v: unknown, what: string): void {
  if (v === null || v === undefined) return;
  if (v instanceof PyDict && v.size === 0) return;
  fail(
    `a tensor has ${what} (a ${pyTypeName(v)}${v instanceof PyDict ? ` of ${v.size}` : ''}); only plain tensors load`,
  );
}

function tensorArg(v: unknown, fn: string): TensorRef {
  if (!(v instanceof TensorRef)) fail(`${fn} needs a tensor, got a ${pyTypeName(v)}`);
  return v;
}

function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef {
  if (!(storage instanceof Storage)) fail(`_rebuild_tensor needs a storage, got a ${pyTypeName(storage)}`);
  if (!isInt(offset) || offset < 0) fail(`a tensor's storage offset is ${pyDescribe(offset)}, not an integer >= 0`);
  const sz = ints(size, "a tensor's size");
  const st = ints(stride, "a tensor's stride");
  if (st.length !== sz.length) fail(`a tensor has ${sz.length} sizes but ${st.length} strides`);
  return new TensorRef(storage, offset, sz, st);
}

class Hooks implements UnpickleHooks {
  constructor(private readonly persistent: (pid: unknown) => unknown) {}

  global(module: string, name: string): unknown {
    const full = `${module}.${name}`;
    const g = ALLOWED.get(full);
    if (!g) return refused(full);
    return new PyGlobal(full, g);
  }

  reduce(callable: unknown, a: PyTuple): unknown {
    if (!(callable instanceof PyGlobal) || (callable.g.kind !== 'class' && callable.g.kind !== 'function'))
      return fail(`the pickle calls a ${pyTypeName(callable)}, which cannot be called`);
    const fn = callable.name;
    switch (callable.g.name) {
      case 'OrderedDict': {
        const [items] = args(a, fn, [0, 1]);
        const d = new PyDict(true);
        if (items !== undefined) {
          if (!Array.isArray(items)) fail(`${fn} called with a ${pyTypeName(items)}`);
          for (const kv of items) {
            if (!(kv instanceof PyTuple) || kv.items.length !== 2) fail(`${fn} called with a list of non-pairs`);
            d.set(kv.items[0], kv.items[1]);
          }
        }
        return d;
      }
      case 'rebuild_tensor': {
        const [s, o, size, stride] = args(a, fn, [4]);
        return rebuildTensor(s, o, size, stride);
      }
      case 'rebuild_tensor_v2': {
        const [s, o, size, stride, _grad, hooks, metadata] = args(a, fn, [6, 7]);
        emptyOrNone(hooks, 'backward hooks');
        emptyOrNone(metadata, 'metadata');
        return rebuildTensor(s, o, size, stride);
      }
      case 'rebuild_parameter':
      case 'rebuild_parameter_with_state': {
        const [data, _grad, hooks] = args(a, fn, callable.g.name === 'rebuild_parameter' ? [3] : [4]);
        emptyOrNone(hooks, 'backward hooks');
        return tensorArg(data, fn); // a state attached to a Parameter (the 4th argument) is not weights: ignored
      }
      case 'rebuild_from_type_v2': {
        // _rebuild_from_type_v2(func, new_type, args, state): a Tensor or Parameter with Python attributes
        const [func, type, inner, _state] = args(a, fn, [4]);
        const named = (g: unknown, kind: 'class' | 'function', re: RegExp) =>
          g instanceof PyGlobal && g.g.kind === kind && re.test(g.g.name);
        if (!named(type, 'class', /^(Tensor|Parameter)$/))
          fail(`${fn} rebuilds a ${pyTypeName(type)}, not a torch.Tensor or Parameter`);
        if (!named(func, 'function', /^rebuild_(tensor|tensor_v2|parameter|parameter_with_state)$/))
          fail(`${fn} calls a ${pyTypeName(func)}, not a tensor-rebuilding function`);
        if (!(inner instanceof PyTuple)) fail(`${fn} needs a tuple of arguments, got a ${pyTypeName(inner)}`);
        return tensorArg(this.reduce(func, inner), fn);
      }
      case 'Parameter': {
        const [data] = args(a, fn, [1, 2]);
        return tensorArg(data, fn);
      }
      case 'Size': {
        const [dims] = args(a, fn, [1]);
        return new PyTuple(ints(dims, 'torch.Size'));
      }
      case 'device': {
        const [type, index] = args(a, fn, [1, 2]);
        if (typeof type !== 'string' || (index !== undefined && index !== null && !isInt(index)))
          fail(`${fn} called with a ${pyTypeName(type)}`);
        return new PyDevice(index === undefined || index === null ? type : `${type}:${index}`);
      }
      case 'restore_type_tag': {
        const [value, tag] = args(a, fn, [2]);
        if (typeof tag !== 'string') fail(`${fn} called with a ${pyTypeName(tag)} tag`);
        return value;
      }
      default:
        return fail(`the pickle calls global '${fn}', which cannot be called`);
    }
  }

  build(obj: unknown, state: unknown): void {
    // OrderedDict's state is its attributes: state_dict()'s _metadata (each module's version). Not weights.
    if (obj instanceof PyDict && (state instanceof PyDict || state instanceof PyTuple || state === null)) return;
    fail(`the pickle sets the state of a ${pyTypeName(obj)} (with a ${pyTypeName(state)}), which is not supported`);
  }

  persistentLoad(pid: unknown): unknown {
    return this.persistent(pid);
  }
}

/** The persistent id of a storage: ('storage', type, key, location, numel[, view_metadata]). */
function storagePid(pid: unknown, legacy: boolean) {
  const items = pid instanceof PyTuple ? pid.items : null;
  if (!items || items[0] !== 'storage') {
    // (pyDescribe, not JSON.stringify: the first item may be a bigint, or not there at all)
    const what = !items
      ? `a ${pyTypeName(pid)}`
      : items.length
        ? `a tuple starting with ${pyDescribe(items[0])}`
        : 'an empty tuple';
    fail(`a persistent id is ${what}, not a storage`);
  }
  if (items.length !== (legacy ? 6 : 5))
    fail(`a storage's persistent id has ${items.length} fields (expected ${legacy ? 6 : 5})`);
  const [, type, key, location, numel, view] = items;
  if (!(type instanceof PyGlobal) || type.g.kind !== 'storage')
    fail(`a storage's type is ${pyTypeName(type)}, not a storage class`);
  if (typeof key !== 'string') fail(`a storage's key is a ${pyTypeName(key)}, not a str`);
  if (typeof location !== 'string' && !(location instanceof PyDevice))
    fail(`storage '${key}' has a location that is a ${pyTypeName(location)}`);
  if (!isInt(numel) || numel < 0)
    fail(`storage '${key}' gives its element count as ${pyDescribe(numel)}, not an integer >= 0`);
  return { dtype: type.g.dtype, key, numel, view };
}

/** Every tensor of the dict, checked, then gathered. */
function stateDict(value: unknown, storages: Storage[]): Omit<PtStateDict, 'format'> {
  if (!(value instanceof PyDict))
    fail(`the file holds a ${pyTypeName(value)}, not a state dict (a dict of names to tensors)`);
  const refs: [string, TensorRef][] = [];
  for (const [k, v] of value.entries()) {
    if (typeof k !== 'string') fail(`a key of the state dict is a ${pyTypeName(k)}, not a name`);
    if (!(v instanceof TensorRef))
      fail(
        `'${k}' is a ${pyTypeName(v)}, not a tensor` +
          (v instanceof PyDict ? ' (a training checkpoint? save model.state_dict() itself)' : ''),
      );
    refs.push([k, v]);
  }
  // Views may share a storage, so the tensors can hold more elements than the file; but not many times more.
  const stored = storages.reduce((s, st) => s + (st.root ? 0 : st.numel), 0);
  let total = 0;
  for (const [k, t] of refs) {
    total += numelOf(t.size);
    if (total > 4 * stored)
      fail(`the tensors (up to '${k}') hold more than 4 times the ${stored} elements stored in the file`);
  }
  const tensors = new Map<string, PtTensor>();
  for (const [k, t] of refs) tensors.set(k, gather(k, t));
  return { container: value.ordered ? 'OrderedDict' : 'dict', tensors };
}

const halfToFloat = (h: number) => {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
};

/**
 * The storage's elements as numbers (bigints for int64), converted once per storage: an aligned copy of its
 * bytes (the file's need not be aligned), 16-bit floats widened, bools made 0/1.
 */
function elements(s: Storage): ArrayLike<number | bigint> {
  if (s.cache) return s.cache;
  const root = s.root ?? s;
  const start = s.viewOffset * ELEMENT_SIZE[s.dtype];
  // a copy (Buffer's slice() would be a view)
  const b = new Uint8Array(root.bytes!.subarray(start, start + s.numel * ELEMENT_SIZE[s.dtype])).buffer;
  const n = s.numel;
  let out: ArrayLike<number | bigint>;
  switch (s.dtype) {
    case 'float32':
      out = new Float32Array(b, 0, n);
      break;
    case 'float64':
      out = new Float64Array(b, 0, n);
      break;
    case 'int64':
      out = new BigInt64Array(b, 0, n);
      break;
    case 'int32':
      out = new Int32Array(b, 0, n);
      break;
    case 'int16':
      out = new Int16Array(b, 0, n);
      break;
    case 'int8':
      out = new Int8Array(b, 0, n);
      break;
    case 'uint8':
      out = new Uint8Array(b, 0, n);
      break;
    case 'bool':
      out = Uint8Array.from(new Uint8Array(b, 0, n), (x) => (x ? 1 : 0));
      break;
    case 'float16':
      out = Float32Array.from(new Uint16Array(b, 0, n), halfToFloat);
      break;
    case 'bfloat16': {
      // bfloat16 is the top half of a float32
      const u = new Uint16Array(b, 0, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = u[i] << 16;
      out = new Float32Array(bits.buffer);
      break;
    }
  }
  s.cache = out;
  return out;
}

function output(dtype: NativeDtype, n: number): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'bfloat16':
      return new Float32Array(n); // widened, as toTypedArray does
  }
}

/** The tensor's elements in row-major order, from its storage, offset and strides. */
function gather(key: string, t: TensorRef): PtTensor {
  const s = t.storage;
  const dtype = LOADED_DTYPE[s.dtype];
  const shape = [...t.size];
  const numel = numelOf(shape);
  const out = output(dtype, numel);
  if (numel === 0) return { dtype, stored: s.dtype, shape, data: out };
  let last = t.offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * t.stride[d];
  if (last >= s.numel)
    fail(
      `'${key}' (shape [${shape.join(', ')}], offset ${t.offset}, stride [${t.stride.join(', ')}]) reaches element ` +
        `${last} of storage '${s.key}', which holds ${s.numel}`,
    );
  const src = elements(s) as ArrayLike<number> & ArrayLike<bigint>;
  const dst = out as { [i: number]: number | bigint };
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let p = t.offset;
  for (let i = 0; i < numel; i++) {
    dst[i] = src[p];
    for (let d = nd - 1; d >= 0; d--) {
      p += t.stride[d];
      if (++idx[d] < shape[d]) break;
      p -= t.stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype, stored: s.dtype, shape, data: out };
}

function checkStorageBytes(s: Storage, got: number, where: string): void {
  const want = s.numel * ELEMENT_SIZE[s.dtype];
  if (got !== want)
    fail(
      `${where} holds ${got} bytes, but storage '${s.key}' is ${s.numel} ${s.dtype} elements (${want} bytes)` +
        (got < want ? ' (truncated?)' : ''),
    );
}

// ---- the zip format ----

/** The unpickled top-level object, with TensorRefs for its tensors, and the storages they use. */
interface Unpickled {
  value: unknown;
  storages: Storage[];
}

function readZipFormat(bytes: Uint8Array): Unpickled {
  const entries = readZip(bytes);
  const pkl = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1)
    fail(
      pkl.length
        ? `the archive has ${pkl.length} data.pkl records (${pkl.join(', ')}); a PyTorch file has one`
        : 'the archive has no <name>/data.pkl record: not a file that torch.save wrote',
    );
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const record = (name: string): ZipEntry | undefined => entries.get(prefix + name);
  const order = record('byteorder');
  if (order) {
    const o = latin1(entryData(bytes, order));
    if (o !== 'little') fail(`the file's byte order is '${o.slice(0, 20)}'; only little-endian files load`);
  }
  const version = record('version');
  if (version) {
    const v = latin1(entryData(bytes, version)).trim();
    if (!/^\d{1,3}$/.test(v)) fail(`${prefix}version says '${v.slice(0, 20)}', not a format version`);
  }
  const storages = new Map<string, Storage>();
  const hooks = new Hooks((pid) => {
    const { dtype, key, numel } = storagePid(pid, false);
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.numel !== numel)
        fail(`storage '${key}' is used as ${known.numel} ${known.dtype} and as ${numel} ${dtype} elements`);
      return known;
    }
    const e = record(`data/${key}`);
    if (!e) fail(`storage '${key}' has no record ${prefix}data/${key} in the archive`);
    const s = new Storage(key, dtype, numel);
    checkStorageBytes(s, e.size, `${prefix}data/${key}`);
    s.bytes = entryData(bytes, e);
    storages.set(key, s);
    return s;
  });
  const data = entryData(bytes, entries.get(pkl[0])!);
  const { value, end } = within(pkl[0], () => unpickle(data, 0, hooks));
  if (end !== data.length) fail(`${pkl[0]} has ${data.length - end} bytes after its pickle's STOP`);
  return { value, storages: [...storages.values()] };
}

/** The text of a short record (version, byteorder); a long one is cut, as it is wrong anyway. */
const latin1 = (b: Uint8Array) => String.fromCharCode(...b.subarray(0, 64));

/** Pickle errors from a zip record name the record. */
function within<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PtFormatError && e.message.startsWith('pickle'))
      throw new PtFormatError(`${where}: ${e.message}`, { cause: e });
    throw e;
  }
}

// ---- the legacy format ----

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

function readLegacy(bytes: Uint8Array): Unpickled {
  const noPersistent = new Hooks(() => fail('a persistent id outside the main pickle'));
  let p = 0;
  const next = (hooks: Hooks) => {
    const r = unpickle(bytes, p, hooks);
    p = r.end;
    return r.value;
  };
  const magic = next(noPersistent);
  if (magic !== MAGIC)
    fail(`not a PyTorch file: it starts with a pickle of a ${pyTypeName(magic)}, not torch.save's magic number`);
  const protocol = next(noPersistent);
  if (protocol !== PROTOCOL_VERSION) fail(`the legacy protocol version is ${pyDescribe(protocol)}; only 1001 is known`);
  const info = next(noPersistent);
  if (!(info instanceof PyDict)) fail(`the legacy sys info is a ${pyTypeName(info)}, not a dict`);
  const little = [...info.entries()].find(([k]) => k === 'little_endian')?.[1];
  if (little !== true) fail('the file was written on a big-endian machine; only little-endian files load');

  const storages = new Map<string, Storage>();
  const views = new Map<string, Storage>();
  const main = next(
    new Hooks((pid) => {
      const { dtype, key, numel, view } = storagePid(pid, true);
      let root = storages.get(key);
      if (root && (root.dtype !== dtype || root.numel !== numel))
        fail(`storage '${key}' is used as ${root.numel} ${root.dtype} and as ${numel} ${dtype} elements`);
      if (!root) storages.set(key, (root = new Storage(key, dtype, numel)));
      if (view === null) return root;
      // (view_key, offset, size): a slice of the root storage, from files of torch < 1.0
      const v = view instanceof PyTuple ? view.items : [];
      const [vkey, offset, size] = v;
      if (v.length !== 3 || typeof vkey !== 'string' || !isInt(offset) || !isInt(size) || offset < 0 || size < 0)
        fail(`storage '${key}' has view metadata that is a ${pyTypeName(view)}, not (key, offset, size)`);
      if (offset + size > numel) fail(`the view '${vkey}' of storage '${key}' runs past its ${numel} elements`);
      // one object per view, so that its elements are converted once however many tensors use it
      const known = views.get(vkey);
      if (known && (known.root !== root || known.viewOffset !== offset || known.numel !== size))
        fail(`the view '${vkey}' is given two different extents`);
      if (!known) views.set(vkey, new Storage(vkey, dtype, size, root, offset));
      return views.get(vkey);
    }),
  );
  const keys = next(noPersistent);
  if (!Array.isArray(keys)) fail(`the legacy storage keys are a ${pyTypeName(keys)}, not a list`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seen = new Set<string>();
  for (const key of keys) {
    if (typeof key !== 'string') fail(`a legacy storage key is a ${pyTypeName(key)}, not a str`);
    const s = storages.get(key);
    if (!s) fail(`the file stores '${key}', which no tensor uses`);
    if (seen.has(key)) fail(`the file stores '${key}' twice`);
    seen.add(key);
    if (bytes.length - p < 8) fail(`truncated: storage '${key}' at byte ${p} has no element count`);
    const count = view.getBigInt64(p, true);
    const size = ELEMENT_SIZE[s.dtype];
    if (count < 0n || count * BigInt(size) > BigInt(bytes.length - p - 8))
      fail(
        `truncated: storage '${key}' at byte ${p} says ${count} elements, more than the ${bytes.length - p - 8} bytes left`,
      );
    checkStorageBytes(s, Number(count) * size, `the file's storage '${key}' at byte ${p}`);
    s.bytes = bytes.subarray(p + 8, p + 8 + Number(count) * size);
    p += 8 + Number(count) * size;
  }
  for (const s of storages.values()) if (!s.bytes) fail(`storage '${s.key}' is used but not stored in the file`);
  if (p !== bytes.length) fail(`${bytes.length - p} stray bytes after the last storage, at byte ${p}`);
  return { value: main, storages: [...storages.values()] };
}

/** Either format, with `name` before every PtFormatError's message, whatever `use` throws too. */
function readPt<T>(bytes: Uint8Array, name: string, use: (u: Unpickled) => T): { format: 'zip' | 'legacy'; out: T } {
  if (endianness() !== 'LE') throw new Error('the .pt reader needs a little-endian machine');
  try {
    if (looksLikeZip(bytes)) return { format: 'zip', out: use(readZipFormat(bytes)) };
    if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2)
      return { format: 'legacy', out: use(readLegacy(bytes)) };
    return fail(
      bytes.length === 0
        ? 'the file is empty'
        : 'not a PyTorch file: neither a zip archive (torch.save) nor a legacy pickle (torch.save with ' +
            '_use_new_zipfile_serialization=False)',
    );
  } catch (e) {
    if (e instanceof PtFormatError) throw new PtFormatError(`${name}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Reads a state dict from the bytes of a .pt file: either torch.save format, or our own model.pt. `name` (the
 * file's path) starts every error message. Throws PtFormatError for anything malformed, hostile or unsupported.
 */
export function readStateDict(bytes: Uint8Array, name = 'state dict'): PtStateDict {
  const { format, out } = readPt(bytes, name, ({ value, storages }) => stateDict(value, storages));
  return { format, ...out };
}

/** How deep readObject follows containers: an optimizer's state dict is 4 deep. */
const MAX_DEPTH = 100;

/** The Python name of a dict key or list index, for paths in messages. */
const subscript = (k: unknown) => `[${typeof k === 'string' ? JSON.stringify(k) : String(k)}]`;

/**
 * Reads any tree of dicts (and OrderedDicts), lists, tuples, str, int, float, bool and None with tensors for
 * leaves, as torch.save writes an optimizer's state_dict(): the value model of pickle.ts, with each tensor
 * replaced by `leaf(tensor)` (called once per distinct tensor of the pickle). The allowlist is readStateDict's;
 * beyond it, any other value (bytes, a bare storage, a dtype, a device) is refused, naming where it is.
 * Objects the pickle shares (memo) stay shared; a cycle stays a cycle.
 */
export function readObject(bytes: Uint8Array, name: string, leaf: (t: PtTensor) => unknown): unknown {
  return readPt(bytes, name, ({ value, storages }) => objectTree(value, storages, leaf)).out;
}

const isScalar = (v: unknown) =>
  v === null || ['boolean', 'number', 'bigint', 'string'].includes(typeof v) || v instanceof PyFloat;

function objectTree(root: unknown, storages: Storage[], leaf: (t: PtTensor) => unknown): unknown {
  // First every tensor and a check of every value; then the tensors' elements are gathered, once each.
  const refs = new Map<TensorRef, string>();
  const seen = new Set<unknown>();
  const check = (v: unknown, path: () => string, depth: number): void => {
    if (isScalar(v)) return;
    if (v instanceof TensorRef) {
      if (!refs.has(v)) refs.set(v, path());
      return;
    }
    if (!(Array.isArray(v) || v instanceof PyTuple || v instanceof PyDict))
      fail(`${path()} is a ${pyTypeName(v)}; only dicts, lists, tuples, str, int, float, bool, None and tensors load`);
    if (seen.has(v)) return;
    seen.add(v);
    if (depth >= MAX_DEPTH) fail(`${path()} is nested more than ${MAX_DEPTH} deep`);
    if (v instanceof PyDict) for (const [k, x] of v.entries()) check(x, () => path() + subscript(k), depth + 1);
    else (Array.isArray(v) ? v : v.items).forEach((x, i) => check(x, () => path() + subscript(i), depth + 1));
  };
  check(root, () => 'the object', 0);

  const stored = storages.reduce((s, st) => s + (st.root ? 0 : st.numel), 0);
  let total = 0;
  for (const [t, path] of refs) {
    total += numelOf(t.size);
    if (total > 4 * stored)
      fail(`the tensors (up to ${path}) hold more than 4 times the ${stored} elements stored in the file`);
  }
  const made = new Map<unknown, unknown>();
  for (const [t, path] of refs) made.set(t, leaf(gather(path, t)));
  const build = (v: unknown): unknown => {
    if (isScalar(v)) return v;
    if (made.has(v)) return made.get(v);
    if (v instanceof PyDict) {
      const d = new PyDict(v.ordered);
      made.set(v, d);
      for (const [k, x] of v.entries()) d.set(k, build(x));
      return d;
    }
    const items: unknown[] = [];
    made.set(v, Array.isArray(v) ? items : new PyTuple(items));
    for (const x of Array.isArray(v) ? v : (v as PyTuple).items) items.push(build(x));
    return made.get(v);
  };
  return build(root);
}

// Exported for tests of the layers underneath.
export { PyDict, PyFloat, PyTuple };
