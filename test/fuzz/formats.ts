// Writers and structure-aware mutations for the containers the targets read: PNG (any colour type, bit depth
// and Adam7 interlacing, with correct CRCs), JPEG segments, and stored zip archives like torch.save's (with
// ZIP64 records on request). The mutations change what is inside a checksum or a length and then fix the
// checksum, so that they reach the decoder instead of stopping at the CRC check.
import { deflateSync, inflateSync } from 'node:zlib';
import { crc32, readZip } from '../../src/torch/serialization/zip.js';
import { INTERESTING_32, mutateBytes, type Rng } from './mutate.js';
import { ADAM7, CHANNELS } from '../../src/imaging/png-guard.js';

export function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const u32be = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

// ---- PNG ----

export const PNG_SIG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const PNG_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

export interface PngChunk {
  type: string;
  data: Uint8Array;
}

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const t = Buffer.from(type, 'latin1');
  return concat([u32be(data.length), t, data, u32be(crc32(concat([t, data])))]);
}

export function writePngChunks(chunks: PngChunk[]): Uint8Array {
  return concat([PNG_SIG, ...chunks.map((c) => pngChunk(c.type, c.data))]);
}

/** The chunks of a PNG, as far as they can be read (a cut-off chunk ends the list). */
export function readPngChunks(b: Uint8Array): PngChunk[] | null {
  if (b.length < 8 || PNG_SIG.some((x, i) => b[i] !== x)) return null;
  const out: PngChunk[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 8; i + 12 <= b.length;) {
    const len = dv.getUint32(i);
    if (i + 12 + len > b.length) break;
    out.push({ type: String.fromCharCode(...b.subarray(i + 4, i + 8)), data: b.slice(i + 8, i + 8 + len) });
    i += 12 + len;
  }
  return out;
}

/** Recomputes the CRC of every complete chunk (after a byte mutation, so it reaches the decoder). */
export function fixPngCrcs(b: Uint8Array): Uint8Array {
  if (b.length < 8 || PNG_SIG.some((x, i) => b[i] !== x)) return b;
  const out = b.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 8; i + 12 <= out.length;) {
    const len = dv.getUint32(i);
    if (i + 12 + len > out.length) break;
    dv.setUint32(i + 8 + len, crc32(out.subarray(i + 4, i + 8 + len)));
    i += 12 + len;
  }
  return out;
}

export interface PngSpec {
  width: number;
  height: number;
  colorType: number;
  bitDepth: number;
  interlace: boolean;
  /** The sample of channel c at (x, y), in [0, 2^bitDepth). */
  sample: (x: number, y: number, c: number) => number;
  /** The filter byte of each row (default 0: none; the data is written unfiltered either way). */
  filter?: () => number;
  /** Palette entries (colour type 3), and a tRNS chunk of this many alpha values. */
  palette?: number;
  transparent?: number;
  /** IDAT chunks to split the stream into. */
  idatChunks?: number;
}

function scanlines(s: PngSpec, x0: number, y0: number, dx: number, dy: number): Uint8Array {
  const ch = CHANNELS[s.colorType];
  const w = Math.ceil((s.width - x0) / dx);
  const h = Math.ceil((s.height - y0) / dy);
  if (w <= 0 || h <= 0) return new Uint8Array(0);
  const rowBytes = Math.ceil((w * ch * s.bitDepth) / 8);
  const out = new Uint8Array(h * (rowBytes + 1));
  for (let r = 0; r < h; r++) {
    const o = r * (rowBytes + 1);
    out[o] = s.filter ? s.filter() : 0;
    let bit = 0;
    for (let c = 0; c < w; c++)
      for (let k = 0; k < ch; k++) {
        const v = s.sample(x0 + c * dx, y0 + r * dy, k);
        if (s.bitDepth === 16) {
          out[o + 1 + (bit >> 3)] = (v >> 8) & 0xff;
          out[o + 2 + (bit >> 3)] = v & 0xff;
        } else if (s.bitDepth === 8) out[o + 1 + (bit >> 3)] = v & 0xff;
        else out[o + 1 + (bit >> 3)] |= (v & ((1 << s.bitDepth) - 1)) << (8 - s.bitDepth - (bit & 7));
        bit += s.bitDepth;
      }
  }
  return out;
}

/** The raw (filtered, uncompressed) image data of a PNG spec: one pass, or Adam7's seven. */
export function pngRaw(s: PngSpec): Uint8Array {
  if (!s.interlace) return scanlines(s, 0, 0, 1, 1);
  return concat(ADAM7.map(([x0, y0, dx, dy]) => scanlines(s, x0, y0, dx, dy)));
}

export function ihdr(
  width: number,
  height: number,
  bitDepth: number,
  colorType: number,
  interlace: number,
): Uint8Array {
  const b = Buffer.alloc(13);
  b.writeUInt32BE(width >>> 0, 0);
  b.writeUInt32BE(height >>> 0, 4);
  b[8] = bitDepth;
  b[9] = colorType;
  b[12] = interlace;
  return b;
}

export function encodePng(s: PngSpec): Uint8Array {
  const chunks: PngChunk[] = [
    { type: 'IHDR', data: ihdr(s.width, s.height, s.bitDepth, s.colorType, s.interlace ? 1 : 0) },
  ];
  if (s.colorType === 3) {
    const n = s.palette ?? 1 << Math.min(8, s.bitDepth);
    chunks.push({ type: 'PLTE', data: Uint8Array.from({ length: n * 3 }, (_, i) => (i * 37) & 0xff) });
    if (s.transparent)
      chunks.push({ type: 'tRNS', data: Uint8Array.from({ length: s.transparent }, (_, i) => (i * 91) & 0xff) });
  }
  const z = deflateSync(pngRaw(s));
  const parts = Math.max(1, s.idatChunks ?? 1);
  const step = Math.ceil(z.length / parts);
  for (let i = 0; i < z.length; i += step) chunks.push({ type: 'IDAT', data: z.subarray(i, i + step) });
  chunks.push({ type: 'IEND', data: new Uint8Array(0) });
  return writePngChunks(chunks);
}

/** A random PNG spec: small and varied, now and then with a big declared size. */
export function randomPngSpec(rng: Rng): PngSpec {
  const colorType = rng.pick([0, 2, 3, 4, 6]);
  const bitDepth = rng.pick(PNG_DEPTHS[colorType]);
  const width = rng.range(1, rng.chance(0.7) ? 40 : 300);
  const height = rng.range(1, rng.chance(0.7) ? 40 : 300);
  const max = (1 << bitDepth) - 1;
  const kind = rng.int(3);
  return {
    width,
    height,
    colorType,
    bitDepth,
    interlace: rng.chance(0.4),
    sample: (x, y, c) =>
      kind === 0 ? (x * 7 + y * 13 + c * 5) & max : kind === 1 ? ((x + y) % 2 ? max : 0) : rng.u32() & max,
    filter: rng.chance(0.5) ? () => rng.int(rng.chance(0.95) ? 5 : 256) : undefined,
    palette: colorType === 3 ? rng.range(1, 1 << Math.min(8, bitDepth)) : undefined,
    transparent: colorType === 3 && rng.chance(0.5) ? rng.range(1, 4) : undefined,
    idatChunks: rng.small(4),
  };
}

/**
 * The inflated image data of a PNG and how much its header says it needs (the test's own count, not png-guard's),
 * or null when the header or the stream cannot be read.
 */
export function pngDataSize(b: Uint8Array): { got: number; need: number } | null {
  const chunks = readPngChunks(b);
  const h = chunks?.[0];
  if (!chunks || !h || h.type !== 'IHDR' || h.data.length < 13) return null;
  const d = Buffer.from(h.data);
  const width = d.readUInt32BE(0);
  const height = d.readUInt32BE(4);
  const ch = CHANNELS[d[9]];
  if (!ch || !width || !height || width * height > 1e8) return null;
  const s: PngSpec = { width, height, colorType: d[9], bitDepth: d[8], interlace: d[12] === 1, sample: () => 0 };
  const rows = (x0: number, y0: number, dx: number, dy: number) => {
    const w = Math.ceil((width - x0) / dx);
    const hh = Math.ceil((height - y0) / dy);
    return w > 0 && hh > 0 ? hh * (Math.ceil((w * ch * s.bitDepth) / 8) + 1) : 0;
  };
  const need = s.interlace ? ADAM7.reduce((n, [x0, y0, dx, dy]) => n + rows(x0, y0, dx, dy), 0) : rows(0, 0, 1, 1);
  try {
    const got = inflateSync(concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data))).length;
    return { got, need };
  } catch {
    return null;
  }
}

/** A PNG that declares a big size (up to past the pixel limit) but carries only a little data. */
export function bigPng(rng: Rng): Uint8Array {
  const width = rng.pick([1000, 4000, 4001, 5000, 65535, 1 << 24]);
  const height = rng.pick([1, 2, 1000, 3999, 4000]);
  const colorType = rng.pick([0, 2, 3, 4, 6]);
  const bitDepth = rng.pick(PNG_DEPTHS[colorType]);
  const raw = rng.chance(0.5) ? rng.bytes(rng.int(2000)) : new Uint8Array(rng.pick([0, 100, 100_000]));
  const chunks: PngChunk[] = [
    { type: 'IHDR', data: ihdr(width, height, bitDepth, colorType, rng.chance(0.5) ? 1 : 0) },
  ];
  if (colorType === 3) chunks.push({ type: 'PLTE', data: new Uint8Array(48) });
  chunks.push({ type: 'IDAT', data: deflateSync(raw) }, { type: 'IEND', data: new Uint8Array(0) });
  return writePngChunks(chunks);
}

/** A structure-aware PNG mutation: the header's fields, the inflated scanlines, or the chunk list. */
export function mutatePng(input: Uint8Array, rng: Rng, other: Uint8Array): Uint8Array {
  const chunks = readPngChunks(input);
  const r = rng.float();
  if (!chunks || chunks.length === 0 || r < 0.25) {
    const m = mutateBytes(input, rng, other);
    return rng.chance(0.7) ? fixPngCrcs(m) : m;
  }
  const hdr = chunks.find((c) => c.type === 'IHDR');
  if (r < 0.5 && hdr && hdr.data.length >= 13) {
    const d = Buffer.from(hdr.data);
    switch (rng.int(6)) {
      case 0:
        d.writeUInt32BE(
          rng.pick([0, 1, 2, 27, 28, 29, 4000, 65535, 0x7fffffff, ...INTERESTING_32]) >>> 0,
          rng.chance(0.5) ? 0 : 4,
        );
        break;
      case 1:
        d.writeUInt32BE((d.readUInt32BE(rng.chance(0.5) ? 0 : 4) + rng.range(-3, 3)) >>> 0, rng.chance(0.5) ? 0 : 4);
        break;
      case 2:
        d[8] = rng.pick([0, 1, 2, 3, 4, 5, 8, 16, 32, 255]);
        break;
      case 3:
        d[9] = rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8]);
        break;
      case 4:
        d[8 + rng.range(2, 4)] = rng.pick([0, 1, 2, 255]);
        break;
      default:
        d[12] ^= 1;
    }
    hdr.data = d;
    return writePngChunks(chunks);
  }
  if (r < 0.8) {
    // inflate the image data, mutate the scanlines (filter bytes, samples, length), deflate it again
    const idat = chunks.filter((c) => c.type === 'IDAT');
    let raw: Uint8Array;
    try {
      raw = inflateSync(concat(idat.map((c) => c.data)));
    } catch {
      return fixPngCrcs(mutateBytes(input, rng, other));
    }
    const z = deflateSync(mutateBytes(raw, rng, raw));
    const rest = chunks.filter((c) => c.type !== 'IDAT');
    const at = Math.max(
      1,
      rest.findIndex((c) => c.type === 'IEND'),
    );
    rest.splice(at < 0 ? rest.length : at, 0, { type: 'IDAT', data: z });
    return writePngChunks(rest);
  }
  // the chunk list: drop, duplicate, move or add a chunk
  const i = rng.int(chunks.length);
  switch (rng.int(4)) {
    case 0:
      chunks.splice(i, 1);
      break;
    case 1:
      chunks.splice(rng.int(chunks.length + 1), 0, { ...chunks[i] });
      break;
    case 2: {
      const [c] = chunks.splice(i, 1);
      chunks.splice(rng.int(chunks.length + 1), 0, c);
      break;
    }
    default:
      chunks.splice(rng.int(chunks.length + 1), 0, {
        type: rng.pick([
          'PLTE',
          'tRNS',
          'IDAT',
          'IEND',
          'gAMA',
          'tEXt',
          'zTXt',
          'iCCP',
          'sBIT',
          'Abcd',
          'abcd',
          'IHDR',
        ]),
        data: rng.bytes(rng.pick([0, 1, 3, 4, 13, 30, 768, 1000])),
      });
  }
  return writePngChunks(chunks);
}

// ---- JPEG ----

export interface JpegSegment {
  marker: number;
  /** The payload without the marker and length; for SOS, the scan data follows in `scan`. */
  data: Uint8Array;
  scan?: Uint8Array;
}

/** A JPEG's segments from SOI to EOI (markers without a length -- SOI, EOI, RSTn -- have empty data). */
export function readJpegSegments(b: Uint8Array): JpegSegment[] | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  const out: JpegSegment[] = [];
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return out.length ? out : null;
    const marker = b[i + 1];
    if (marker === 0xd9) break;
    const len = (b[i + 2] << 8) | b[i + 3];
    if (len < 2 || i + 2 + len > b.length) return out.length ? out : null;
    const seg: JpegSegment = { marker, data: b.slice(i + 4, i + 2 + len) };
    i += 2 + len;
    if (marker === 0xda) {
      // entropy-coded data: up to the next marker that is not a stuffed 0xff00 or a restart marker
      let j = i;
      while (j + 1 < b.length && !(b[j] === 0xff && b[j + 1] !== 0 && (b[j + 1] < 0xd0 || b[j + 1] > 0xd7))) j++;
      seg.scan = b.slice(i, j);
      i = j;
    }
    out.push(seg);
  }
  return out;
}

export function writeJpegSegments(segs: JpegSegment[], eoi = true): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0xff, 0xd8])];
  for (const s of segs) {
    const len = Math.min(0xffff, s.data.length + 2);
    parts.push(new Uint8Array([0xff, s.marker, len >> 8, len & 0xff]), s.data.subarray(0, len - 2));
    if (s.scan) parts.push(s.scan);
  }
  if (eoi) parts.push(new Uint8Array([0xff, 0xd9]));
  return concat(parts);
}

/** A structure-aware JPEG mutation: a segment's payload (its length kept right), the frame header, the list. */
export function mutateJpeg(input: Uint8Array, rng: Rng, other: Uint8Array): Uint8Array {
  const segs = readJpegSegments(input);
  if (!segs || !segs.length || rng.chance(0.3)) return mutateBytes(input, rng, other);
  const i = rng.int(segs.length);
  const s = segs[i];
  switch (rng.int(7)) {
    case 0:
    case 1:
      s.data = mutateBytes(s.data, rng, s.data);
      break;
    case 2: {
      // the frame header: precision, height, width, components and their sampling and tables
      const sof = segs.find(
        (x) => x.marker >= 0xc0 && x.marker <= 0xcf && x.marker !== 0xc4 && x.marker !== 0xc8 && x.marker !== 0xcc,
      );
      if (!sof || sof.data.length < 6) break;
      const d = Buffer.from(sof.data);
      const f = rng.int(5);
      if (f === 0) d[0] = rng.pick([0, 1, 8, 12, 16, 255]);
      else if (f === 1) d.writeUInt16BE(rng.pick([0, 1, 7, 8, 9, 16, 17, 4000, 0xffff]), rng.chance(0.5) ? 1 : 3);
      else if (f === 2) d[5] = rng.pick([0, 1, 2, 3, 4, 5, 255]);
      else if (d.length > 7)
        d[6 + 3 * rng.int(Math.max(1, (d.length - 6) / 3)) + 1 + rng.int(2)] = rng.pick([
          0, 0x11, 0x22, 0x44, 0x41, 0x14, 0xff, 3, 4,
        ]);
      sof.data = d;
      break;
    }
    case 3:
      s.marker = rng.pick([0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc9, 0xcb, 0xdb, 0xdd, 0xda, 0xe0, 0xfe, 0xd0, 0x01]);
      break;
    case 4:
      segs.splice(i, 1);
      break;
    case 5:
      segs.splice(rng.int(segs.length + 1), 0, { ...s, data: s.data.slice(), scan: s.scan?.slice() });
      break;
    default:
      if (s.scan) s.scan = mutateBytes(s.scan, rng, s.scan);
      else s.data = s.data.subarray(0, rng.int(s.data.length + 1));
  }
  return writeJpegSegments(segs, rng.chance(0.9));
}

// ---- zip (stored, as torch.save writes) ----

export interface ZipRecord {
  name: string;
  data: Uint8Array;
}

/** A stored zip archive; `align` pads each entry's data to that boundary (PyTorch uses 64), `zip64` adds ZIP64 records. */
export function writeZip(records: ZipRecord[], opts: { align?: number; zip64?: boolean } = {}): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const crc = crc32(r.data);
    const base = off + 30 + name.length;
    let pad = 0;
    if (opts.align) {
      pad = (opts.align - ((base + 4) % opts.align)) % opts.align;
      pad += 4;
    }
    const extra = Buffer.alloc(pad);
    if (pad >= 4) {
      extra.writeUInt16LE(0x4246, 0); // 'FB', as PyTorch's writer
      extra.writeUInt16LE(pad - 4, 2);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(r.data.length, 18);
    local.writeUInt32LE(r.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, name, extra, Buffer.from(r.data));
    const z64 = Buffer.alloc(opts.zip64 ? 28 : 0);
    if (opts.zip64) {
      z64.writeUInt16LE(1, 0);
      z64.writeUInt16LE(24, 2);
      z64.writeBigUInt64LE(BigInt(r.data.length), 4);
      z64.writeBigUInt64LE(BigInt(r.data.length), 12);
      z64.writeBigUInt64LE(BigInt(off), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    c.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : r.data.length, 20);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : r.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(z64.length, 30);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : off, 42);
    central.push(c, name, z64);
    off += 30 + name.length + extra.length + r.data.length;
  }
  const cd = Buffer.concat(central);
  const tail: Buffer[] = [];
  const n = records.length;
  if (opts.zip64) {
    const e64 = Buffer.alloc(56);
    e64.writeUInt32LE(0x06064b50, 0);
    e64.writeBigUInt64LE(44n, 4);
    e64.writeUInt16LE(45, 12);
    e64.writeUInt16LE(45, 14);
    e64.writeBigUInt64LE(BigInt(n), 24);
    e64.writeBigUInt64LE(BigInt(n), 32);
    e64.writeBigUInt64LE(BigInt(cd.length), 40);
    e64.writeBigUInt64LE(BigInt(off), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(off + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(e64, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.zip64 ? 0xffff : n, 8);
  end.writeUInt16LE(opts.zip64 ? 0xffff : n, 10);
  end.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  end.writeUInt32LE(opts.zip64 ? 0xffffffff : off, 16);
  return new Uint8Array(Buffer.concat([...parts, cd, ...tail, end]));
}

/** A zip's records (names and data), or null when our reader does not take it. */
export function zipRecords(b: Uint8Array): ZipRecord[] | null {
  try {
    return [...readZip(b).values()].map((e) => ({ name: e.name, data: b.slice(e.offset, e.offset + e.size) }));
  } catch {
    return null;
  }
}
