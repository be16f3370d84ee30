// An unpickler for the opcodes that protocols 2 to 5 use in PyTorch state dicts. It is a data reader, not
// Python: it calls nothing by itself. GLOBAL, REDUCE, BUILD and BINPERSID are handed to the caller's hooks
// (pt.ts: an allowlist of PyTorch's tensor-rebuilding functions), so what a pickle may construct is decided
// there. Every length is checked against the bytes left before anything is read or allocated, the stack and
// memo grow by at most one value per opcode, and no value is walked recursively, so hostile input costs time
// and memory linear in its size and ends in a PtFormatError.
import { TextDecoder } from 'node:util';
import { fail } from './errors.js';

/** A Python tuple (a JS array is a list). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A Python float (a JS number is an int; ints past 2^53 are bigints). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A Python dict or collections.OrderedDict; keys are str, int, bool or None, in insertion order. */
export class PyDict {
  private readonly map = new Map<string, [unknown, unknown]>();
  constructor(readonly ordered = false) {}
  set(key: unknown, value: unknown): void {
    this.map.set(dictKey(key), [key, value]);
  }
  get(key: unknown): unknown {
    return this.map.get(dictKey(key))?.[1];
  }
  has(key: unknown): boolean {
    return this.map.has(dictKey(key));
  }
  get size(): number {
    return this.map.size;
  }
  *entries(): Generator<[unknown, unknown]> {
    for (const kv of this.map.values()) yield kv;
  }
  *keys(): Generator<unknown> {
    for (const [k] of this.map.values()) yield k;
  }
  /** A dict of these entries, in their order. */
  static of(entries: Iterable<readonly [unknown, unknown]>, ordered = false): PyDict {
    const d = new PyDict(ordered);
    for (const [k, v] of entries) d.set(k, v);
    return d;
  }
}

/** Python's hash equality for the key types a state dict uses: 1, 1n and True are one key. */
function dictKey(k: unknown): string {
  if (typeof k === 'string') return `s${k}`;
  if (typeof k === 'number' || typeof k === 'bigint') return `i${String(k)}`;
  if (typeof k === 'boolean') return `i${k ? 1 : 0}`;
  if (k === null) return 'n';
  return fail(`a dict key is a ${pyTypeName(k)}; only str, int, bool and None keys are supported`);
}

/** Python's name for a value's type, for messages. */
export function pyTypeName(v: unknown): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (typeof v !== 'object') return 'nothing'; // undefined: a missing item
  const d = (v as { describe?: () => string }).describe;
  return typeof d === 'function' ? d.call(v) : 'object';
}

/** A value for a message: a simple one with its value (int 5, str "ab"), any other by its type (a tuple). */
export function pyDescribe(v: unknown): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'string') return `str ${JSON.stringify(v.slice(0, 40))}`;
  if (v instanceof PyFloat) return `float ${v.value}`;
  return `a ${pyTypeName(v)}`;
}

/** What the pickle may build: the caller decides, and throws to refuse. */
export interface UnpickleHooks {
  /** GLOBAL / STACK_GLOBAL: the value `module.name` stands for. */
  global(module: string, name: string): unknown;
  /** REDUCE: `callable(*args)`, where callable came from global(). */
  reduce(callable: unknown, args: PyTuple): unknown;
  /** BUILD: `obj.__setstate__(state)`. */
  build(obj: unknown, state: unknown): void;
  /** BINPERSID: the object a persistent id stands for (PyTorch: a storage). */
  persistentLoad(pid: unknown): unknown;
}

const OP_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x46: 'FLOAT',
  0x47: 'BINFLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x5d: 'EMPTY_LIST',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x75: 'SETITEMS',
  0x7d: 'EMPTY_DICT',
  0x29: 'EMPTY_TUPLE',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** An integer that long enough cannot be in a state dict; the cap keeps BigInt parsing cheap. */
const MAX_LONG_BYTES = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Unpickles one pickle that starts at `start` in `bytes` (offsets in messages are from the start of `bytes`).
 * Returns the value and the offset just past its STOP.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: UnpickleHooks): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let p = start;
  let at = start; // where the current opcode starts
  let op = 0;

  const here = () => `${OP_NAMES[op] ?? `0x${op.toString(16)}`} at byte ${at}`;
  const need = (k: number) => {
    if (k > n - p) fail(`pickle truncated: ${here()} needs ${k} more bytes, ${n - p} left`);
  };
  const u8 = () => (need(1), bytes[p++]);
  const u16 = () => (need(2), (p += 2), view.getUint16(p - 2, true));
  const u32 = () => (need(4), (p += 4), view.getUint32(p - 4, true));
  const i32 = () => (need(4), (p += 4), view.getInt32(p - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(n)) fail(`pickle: ${here()} gives a length of ${v}, more than the whole file`);
    return Number(v);
  };
  const take = (k: number) => {
    need(k);
    p += k;
    return bytes.subarray(p - k, p);
  };
  const text = (b: Uint8Array) => {
    try {
      return utf8.decode(b);
    } catch {
      return fail(`pickle: ${here()} holds a string that is not UTF-8`);
    }
  };
  const line = () => {
    const e = bytes.indexOf(0x0a, p);
    if (e < 0) fail(`pickle truncated: ${here()} has no end of line`);
    const s = text(bytes.subarray(p, e));
    p = e + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) fail(`pickle: stack underflow at ${here()}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail(`pickle: stack underflow at ${here()}`);
    return stack[stack.length - 1];
  };
  /** The items pushed since the last MARK; the stack goes back to what it was before the MARK. */
  const popMark = () => {
    const prev = marks.pop();
    if (!prev) fail(`pickle: ${here()} without a MARK`);
    const items = stack;
    stack = prev;
    return items;
  };
  const long = (b: Uint8Array) => {
    if (b.length > MAX_LONG_BYTES) fail(`pickle: ${here()} holds a ${b.length}-byte integer`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const memoGet = (k: number) => {
    if (!memo.has(k)) fail(`pickle: memo key ${k} not found (${here()})`);
    return memo.get(k);
  };
  const memoPut = (k: number) => memo.set(k, top());
  const asDict = (d: unknown) => {
    if (!(d instanceof PyDict)) fail(`pickle: ${here()} on a ${pyTypeName(d)}, not a dict`);
    return d;
  };
  const asList = (l: unknown) => {
    if (!Array.isArray(l)) fail(`pickle: ${here()} on a ${pyTypeName(l)}, not a list`);
    return l;
  };
  const setItems = (d: PyDict, items: unknown[]) => {
    if (items.length % 2) fail(`pickle: ${here()} with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };

  for (;;) {
    at = p;
    if (p >= n) fail(`pickle truncated: no STOP opcode by byte ${n}`);
    op = bytes[p++];
    switch (op) {
      case 0x80: {
        const v = u8();
        if (v > 5) fail(`pickle: protocol ${v} is newer than any Python writes (${here()})`);
        break;
      }
      case 0x95: // FRAME: a buffering hint; its length must still fit
        need(u64());
        break;
      case 0x2e: {
        if (marks.length) fail(`pickle: STOP with ${marks.length} MARK(s) still open (${here()})`);
        if (stack.length !== 1) fail(`pickle: STOP with ${stack.length} values on the stack (${here()})`);
        return { value: stack[0], end: p };
      }
      case 0x28:
        marks.push(stack);
        stack = [];
        break;
      case 0x30:
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31:
        popMark();
        break;
      case 0x32:
        stack.push(top());
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4a:
        stack.push(i32());
        break;
      case 0x4b:
        stack.push(u8());
        break;
      case 0x4d:
        stack.push(u16());
        break;
      case 0x8a:
        stack.push(long(take(u8())));
        break;
      case 0x8b: {
        const k = i32();
        if (k < 0) fail(`pickle: ${here()} has a negative length`);
        stack.push(long(take(k)));
        break;
      }
      case 0x47: {
        need(8);
        stack.push(new PyFloat(view.getFloat64(p, false)));
        p += 8;
        break;
      }
      case 0x58:
        stack.push(text(take(u32())));
        break;
      case 0x8c:
        stack.push(text(take(u8())));
        break;
      case 0x8d:
        stack.push(text(take(u64())));
        break;
      case 0x54: {
        const k = i32();
        if (k < 0) fail(`pickle: ${here()} has a negative length`);
        stack.push(text(take(k)));
        break;
      }
      case 0x55:
        stack.push(text(take(u8())));
        break;
      case 0x42:
        stack.push(take(u32()));
        break;
      case 0x43:
        stack.push(take(u8()));
        break;
      case 0x8e:
        stack.push(take(u64()));
        break;
      case 0x7d:
        stack.push(new PyDict());
        break;
      case 0x5d:
        stack.push([]);
        break;
      case 0x29:
        stack.push(new PyTuple([]));
        break;
      case 0x74: {
        const items = popMark(); // before `stack` is read: popMark replaces it
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: {
        const a = pop();
        stack.push(new PyTuple([a]));
        break;
      }
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x6c: {
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: {
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x61: {
        const v = pop();
        asList(top()).push(v);
        break;
      }
      case 0x65: {
        const items = popMark();
        const l = asList(top());
        for (const v of items) l.push(v);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        asDict(top()).set(k, v);
        break;
      }
      case 0x75: {
        const items = popMark();
        setItems(asDict(top()), items);
        break;
      }
      case 0x63: {
        const module = line();
        const name = line();
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x93: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail(`pickle: ${here()} needs two strings, got a ${pyTypeName(module)} and a ${pyTypeName(name)}`);
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) fail(`pickle: ${here()} needs a tuple of arguments, got a ${pyTypeName(args)}`);
        stack.push(hooks.reduce(fn, args));
        break;
      }
      case 0x62: {
        const state = pop();
        hooks.build(top(), state);
        break;
      }
      case 0x51:
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x71:
        memoPut(u8());
        break;
      case 0x72:
        memoPut(u32());
        break;
      case 0x94:
        memoPut(memo.size);
        break;
      case 0x68:
        stack.push(memoGet(u8()));
        break;
      case 0x6a:
        stack.push(memoGet(u32()));
        break;
      default:
        if (OP_NAMES[op]) fail(`pickle: opcode ${here()} is not used in state dicts and is not supported`);
        fail(`pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} (corrupt file?)`);
    }
  }
}
