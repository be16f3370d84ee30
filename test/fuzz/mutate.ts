// Seeded randomness and the mutations the fuzzer applies: byte-level (bit flips, interesting values, truncation,
// extension, splices, length-field tweaks) and JSON-level (random values, keys and types at random paths).
// Everything is a pure function of the Rng, so one (seed, execution) pair always gives the same input.

/** A small, fast PRNG: xoshiro128**, its state seeded through a splitmix-style hash. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }
  /** A uniform 32-bit unsigned integer (xoshiro128**). */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }
  float(): number {
    return this.u32() / 2 ** 32;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  /** Small numbers far more often than big ones: 1 + a geometric count. */
  small(max: number, p = 0.5): number {
    let n = 1;
    while (n < max && this.chance(p)) n++;
    return n;
  }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The Rng of one execution: the same (seed, index) always gives the same stream. */
export function execRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1)) >>> 0);
}

export const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
export const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];
export const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x10000, 0xffff, 784, 60000];

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A random position, biased towards the start, where headers and length fields are. */
function pos(rng: Rng, n: number): number {
  if (n <= 0) return 0;
  return rng.chance(0.4) ? rng.int(Math.min(n, 64)) : rng.int(n);
}

function write(buf: Uint8Array, at: number, value: number, width: 2 | 4, littleEndian: boolean): void {
  if (at + width > buf.length) return;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (width === 2) dv.setUint16(at, value & 0xffff, littleEndian);
  else dv.setUint32(at, value >>> 0, littleEndian);
}

export type ByteMutator = (input: Uint8Array, rng: Rng, other: Uint8Array) => Uint8Array;

/** Each mutator returns a new array; `other` is another corpus entry, for splices. */
export const BYTE_MUTATORS: Record<string, ByteMutator> = {
  bitFlip(input, rng) {
    const out = input.slice();
    if (!out.length) return out;
    for (let k = rng.small(8); k > 0; k--) out[pos(rng, out.length)] ^= 1 << rng.int(8);
    return out;
  },
  interestingByte(input, rng) {
    const out = input.slice();
    if (out.length) out[pos(rng, out.length)] = rng.pick(INTERESTING_8);
    return out;
  },
  interestingWord(input, rng) {
    const out = input.slice();
    const wide = rng.chance(0.5);
    const v = wide ? rng.pick(INTERESTING_32) : rng.pick(INTERESTING_16);
    write(out, pos(rng, out.length), v, wide ? 4 : 2, rng.chance(0.5));
    return out;
  },
  randomByte(input, rng) {
    const out = input.slice();
    for (let k = rng.small(4); k > 0 && out.length; k--) out[pos(rng, out.length)] = rng.u32() & 0xff;
    return out;
  },
  arithmetic(input, rng) {
    const out = input.slice();
    if (out.length) {
      const i = pos(rng, out.length);
      out[i] = (out[i] + rng.range(-16, 16)) & 0xff;
    }
    return out;
  },
  truncate(input, rng) {
    if (!input.length) return input.slice();
    // near the end (a cut-off download) as often as anywhere
    const n = rng.chance(0.5) ? Math.max(0, input.length - rng.small(64, 0.9)) : rng.int(input.length);
    return input.slice(0, n);
  },
  extend(input, rng) {
    const n = rng.small(256, 0.9);
    const tail = rng.chance(0.5) ? rng.bytes(n) : new Uint8Array(n).fill(rng.pick(INTERESTING_8));
    return concat([input, tail]);
  },
  deleteChunk(input, rng) {
    if (input.length < 2) return input.slice();
    const at = pos(rng, input.length);
    const n = Math.min(input.length - at, rng.small(128, 0.8));
    return concat([input.subarray(0, at), input.subarray(at + n)]);
  },
  duplicateChunk(input, rng) {
    if (!input.length) return input.slice();
    const at = rng.int(input.length);
    const n = Math.min(input.length - at, rng.small(256, 0.8));
    const to = rng.int(input.length + 1);
    return concat([input.subarray(0, to), input.subarray(at, at + n), input.subarray(to)]);
  },
  splice(input, rng, other) {
    // a chunk of another input, inserted or overwritten
    if (!other.length) return input.slice();
    const from = rng.int(other.length);
    const n = Math.min(other.length - from, rng.small(512, 0.85));
    const chunk = other.subarray(from, from + n);
    const to = rng.int(input.length + 1);
    if (rng.chance(0.5)) return concat([input.subarray(0, to), chunk, input.subarray(to)]);
    const out = input.slice();
    out.set(chunk.subarray(0, Math.max(0, out.length - to)), to);
    return out;
  },
  crossover(input, rng, other) {
    // the head of one input and the tail of another
    return concat([input.subarray(0, rng.int(input.length + 1)), other.subarray(rng.int(other.length + 1))]);
  },
  lengthField(input, rng) {
    // Find a 16- or 32-bit field (either byte order) that could be a length or a count -- at most the size of the
    // input -- and move it a little: off by one, doubled, zeroed, maxed.
    const out = input.slice();
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let tries = 0; tries < 16; tries++) {
      const wide = rng.chance(0.6);
      const w = wide ? 4 : 2;
      if (out.length < w) return out;
      const at = pos(rng, out.length - w + 1);
      const le = rng.chance(0.5);
      const v = wide ? dv.getUint32(at, le) : dv.getUint16(at, le);
      if (v === 0 || v > out.length * 2) continue;
      const moves = [
        v + 1,
        v - 1,
        v + rng.range(2, 64),
        v - rng.range(2, 64),
        v * 2,
        v >>> 1,
        0,
        0xffffffff,
        v + out.length,
      ];
      write(out, at, rng.pick(moves), w, le);
      return out;
    }
    return out;
  },
};

const MUTATOR_NAMES = Object.keys(BYTE_MUTATORS);

/** 1 to 6 byte mutations in a row. */
export function mutateBytes(input: Uint8Array, rng: Rng, other: Uint8Array = input): Uint8Array {
  let out = input;
  for (let k = rng.small(6); k > 0; k--) out = BYTE_MUTATORS[rng.pick(MUTATOR_NAMES)](out, rng, other);
  return out;
}

// ---- JSON ----

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2,
  0.5,
  -0.5,
  0.999,
  1e-7,
  1e-300,
  5e-324,
  255,
  256,
  784,
  1000,
  65535,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e21,
  1e308,
  -1e308,
  1.7976931348623157e308,
  0.1,
  0.9,
  3.14159,
];
const STRINGS = [
  '',
  ' ',
  'none',
  'crop',
  'crop,flip',
  'crop,crop',
  ' crop , erase ',
  'flip,',
  'true',
  'null',
  '0',
  '-1',
  '1e3',
  'pytorch',
  'keras',
  'ensemble',
  'cnn',
  'dense',
  'resnet',
  'seed',
  'modern',
  'sgd',
  'adam',
  'cosine',
  'onecycle',
  'model.pt',
  'model.json',
  'run.json',
  '../model.pt',
  '.',
  '/',
  '__proto__',
  'constructor',
  'toString',
  'x'.repeat(300),
  '\u0000',
  '\ud83d\udca5',
  'é',
  '%s%n',
  '${x}',
  '<script>',
];

/** A random JSON value, from a list of edge cases or random, nested at most `depth` deep. */
export function randomJson(rng: Rng, depth = 3, extraStrings: readonly string[] = []): Json {
  const r = rng.int(depth > 0 ? 10 : 7);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NUMBERS) * (rng.chance(0.1) ? -1 : 1);
    case 3:
      return rng.chance(0.5) ? rng.range(-3, 300) : rng.float() * 10 ** rng.range(-3, 6);
    case 4:
    case 5:
      return extraStrings.length && rng.chance(0.5) ? rng.pick(extraStrings) : rng.pick(STRINGS);
    case 6:
      return String.fromCharCode(...rng.bytes(rng.int(12)).map((b) => 32 + (b % 95)));
    case 7:
    case 8:
      return Array.from({ length: rng.small(8, 0.6) - 1 }, () => randomJson(rng, depth - 1, extraStrings));
    default: {
      const o: Record<string, Json> = {};
      for (let k = rng.small(6, 0.6) - 1; k > 0; k--)
        o[rng.pick([...STRINGS.slice(0, 8), 'a', 'b', 'dir', 'name', ...extraStrings])] = randomJson(
          rng,
          depth - 1,
          extraStrings,
        );
      return o;
    }
  }
}

type Path = (string | number)[];

/** Every path to a value in `v` (the root is []). */
function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...at, k], out);
  return out;
}

function getAt(v: Json, p: Path): Json {
  let x: any = v;
  for (const k of p) x = x[k];
  return x;
}

/**
 * One structural change at a random path: a new value of a random type, the key deleted or renamed, a key added,
 * the value wrapped in an array or an object, a number nudged, a string cut. `keys` and `strings` are names the
 * target knows (its schema's keys and enum values), so changes often land on fields the reader looks at.
 */
export function mutateJson(value: Json, rng: Rng, keys: readonly string[] = [], strings: readonly string[] = []): Json {
  const root = structuredClone(value);
  const all = paths(root);
  const p = rng.pick(all);
  const cur = getAt(root, p);
  const replace = (v: Json): Json => {
    if (p.length === 0) return v;
    (getAt(root, p.slice(0, -1)) as any)[p[p.length - 1]] = v;
    return root;
  };
  const parent = p.length ? (getAt(root, p.slice(0, -1)) as any) : null;
  const key = p[p.length - 1];
  switch (rng.int(9)) {
    case 0:
    case 1:
      return replace(randomJson(rng, 2, strings));
    case 2: // delete the key, or the array element
      if (parent === null) return randomJson(rng, 3, strings);
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      return root;
    case 3: {
      // add a key (a known one, or not) to an object
      const objs = all.map((q) => getAt(root, q)).filter((x) => x && typeof x === 'object' && !Array.isArray(x));
      if (!objs.length) return replace({ [rng.pick(keys.length ? keys : ['a'])]: randomJson(rng, 1, strings) });
      const o = rng.pick(objs) as Record<string, Json>;
      o[rng.chance(0.7) && keys.length ? rng.pick(keys) : rng.pick(['__proto__', 'constructor', '', 'x', 'Model'])] =
        randomJson(rng, 2, strings);
      return root;
    }
    case 4: // rename a key
      if (parent && !Array.isArray(parent) && typeof key === 'string') {
        const v = parent[key];
        delete parent[key];
        const name = rng.pick([key.toUpperCase(), `${key} `, key.slice(1), `${key}s`, ...keys]);
        parent[name || 'x'] = v;
        return root;
      }
      return replace(randomJson(rng, 1, strings));
    case 5:
      return replace(rng.chance(0.5) ? [cur] : { value: cur });
    case 6:
      if (typeof cur === 'number')
        return replace(rng.pick([cur + 1, cur - 1, -cur, cur * 2, cur / 3, Math.round(cur) + 0.5, 0]));
      if (typeof cur === 'string')
        return replace(
          rng.pick([cur.slice(0, rng.int(cur.length + 1)), cur + cur, cur.toUpperCase(), `${cur},`, ` ${cur}`]),
        );
      if (Array.isArray(cur))
        return replace(rng.chance(0.5) ? [...cur, ...cur] : cur.slice(0, rng.int(cur.length + 1)));
      return replace(randomJson(rng, 1, strings));
    case 7:
      return replace(strings.length ? rng.pick(strings) : randomJson(rng, 0));
    default:
      // the same value as another type: 1 -> "1", "1" -> 1, true -> 1, [x] -> x
      if (typeof cur === 'number') return replace(String(cur));
      if (typeof cur === 'string') return replace(Number(cur) || cur.length);
      if (typeof cur === 'boolean') return replace(cur ? 1 : 0);
      if (Array.isArray(cur)) return replace(cur.length ? cur[0] : null);
      return replace(JSON.stringify(cur));
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const jsonBytes = (v: unknown, indent?: number) => enc.encode(JSON.stringify(v, null, indent));
export const text = (b: Uint8Array) => dec.decode(b);

/** A JSON input mutated as JSON most of the time, as bytes (mostly invalid JSON) otherwise. */
export function mutateJsonBytes(
  input: Uint8Array,
  rng: Rng,
  other: Uint8Array,
  keys: readonly string[] = [],
  strings: readonly string[] = [],
): Uint8Array {
  if (rng.chance(0.8)) {
    let v: Json;
    try {
      v = JSON.parse(text(input)) as Json;
    } catch {
      return mutateBytes(input, rng, other);
    }
    for (let k = rng.small(4); k > 0; k--) v = mutateJson(v, rng, keys, strings);
    return jsonBytes(v, rng.chance(0.5) ? 2 : undefined);
  }
  return mutateBytes(input, rng, other);
}
