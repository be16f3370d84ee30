// A strict reader of the zip archives torch.save and torch::pickle_save write: one central directory, stored
// (uncompressed) entries only, ZIP64 records understood. Nothing is inflated and nothing is copied: an entry's
// data is a view into the input, checked against the directory's CRC-32 when it is read. Every offset and length
// is checked against the input's size before it is used, so a hostile archive costs at most a pass over its bytes.
import { TextDecoder } from 'node:util';
import { fail } from './errors.js';

export interface ZipEntry {
  readonly name: string;
  /** Where the entry's data starts in the archive, and its length (stored: compressed = uncompressed). */
  readonly offset: number;
  readonly size: number;
  readonly crc32: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const END_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when the bytes start like a zip archive (a local file header), as torch.load decides. */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(at: number, n: number, what: string): void {
    if (at < 0 || n < 0 || at + n > this.bytes.length)
      fail(`zip: ${what} at byte ${at} runs past the end of the file (${this.bytes.length} bytes; truncated?)`);
  }
  u16(at: number): number {
    return this.view.getUint16(at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  /** A 64-bit field; beyond 2^53 it cannot be an offset in any file we could hold. */
  u64(at: number, what: string): number {
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`zip: ${what} is ${v}, far larger than the file`);
    return Number(v);
  }
}

interface End {
  /** Where the end-of-central-directory record (or its ZIP64 form) starts: the directory must end before it. */
  at: number;
  entries: number;
  cdOffset: number;
  cdSize: number;
}

function findEnd(r: Reader): End {
  const n = r.bytes.length;
  if (n < END_SIZE) fail(`zip: ${n} bytes is too short for a zip archive (truncated?)`);
  // The record sits at the end, after at most a 65,535-byte comment.
  let at = -1;
  for (let i = n - END_SIZE; i >= Math.max(0, n - END_SIZE - 0xffff); i--)
    if (r.u32(i) === SIG_END && i + END_SIZE + r.u16(i + 20) <= n) {
      at = i;
      break;
    }
  if (at < 0) fail('zip: no end-of-central-directory record (truncated or not a zip archive)');
  if (r.u16(at + 4) !== 0 || r.u16(at + 6) !== 0) fail('zip: multi-disk archives are not supported');
  let entries = r.u16(at + 10);
  let cdSize = r.u32(at + 12);
  let cdOffset = r.u32(at + 16);
  if (entries !== r.u16(at + 8)) fail('zip: the end record disagrees with itself on the number of entries');
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = at - 20;
    if (loc < 0 || r.u32(loc) !== SIG_LOCATOR64) fail('zip: a ZIP64 archive without its ZIP64 end locator');
    const end64 = r.u64(loc + 8, 'the ZIP64 end record offset');
    r.need(end64, 56, 'the ZIP64 end record');
    if (end64 > loc - 56 || r.u32(end64) !== SIG_END64) fail(`zip: no ZIP64 end record at byte ${end64}`);
    if (r.u32(end64 + 16) !== 0 || r.u32(end64 + 20) !== 0) fail('zip: multi-disk archives are not supported');
    entries = r.u64(end64 + 32, 'the ZIP64 entry count');
    cdSize = r.u64(end64 + 40, 'the ZIP64 directory size');
    cdOffset = r.u64(end64 + 48, 'the ZIP64 directory offset');
    at = end64;
  }
  if (cdOffset + cdSize > at)
    fail(`zip: the central directory (${cdSize} bytes at byte ${cdOffset}) overlaps the end record at byte ${at}`);
  if (entries * CENTRAL_SIZE > cdSize) fail(`zip: ${entries} entries cannot fit in a ${cdSize}-byte central directory`);
  return { at, entries, cdOffset, cdSize };
}

/** The sizes and offset a central header gives as 0xffffffff live in its ZIP64 extra field. */
function zip64Fields(r: Reader, extra: number, extraLen: number, want: { size: boolean; offset: boolean }) {
  let size: number | undefined;
  let offset: number | undefined;
  for (let p = extra; p + 4 <= extra + extraLen;) {
    const id = r.u16(p);
    const len = r.u16(p + 2);
    if (p + 4 + len > extra + extraLen) fail('zip: an extra field runs past its header');
    if (id === 0x0001) {
      let q = p + 4;
      const take = (what: string) => {
        if (q + 8 > p + 4 + len) fail(`zip: the ZIP64 extra field lacks the ${what}`);
        const v = r.u64(q, `the ZIP64 ${what}`);
        q += 8;
        return v;
      };
      if (want.size) {
        size = take('uncompressed size');
        const compressed = take('compressed size');
        if (compressed !== size) fail('zip: a stored entry whose two sizes differ');
      }
      if (want.offset) offset = take('header offset');
    }
    p += 4 + len;
  }
  if ((want.size && size === undefined) || (want.offset && offset === undefined))
    fail('zip: an entry needs a ZIP64 extra field it does not have');
  return { size, offset };
}

/** Every entry of the archive, by name, after checking the directory and each local header against it. */
export function readZip(bytes: Uint8Array): Map<string, ZipEntry> {
  const r = new Reader(bytes);
  const end = findEnd(r);
  const out = new Map<string, ZipEntry>();
  let p = end.cdOffset;
  const cdEnd = end.cdOffset + end.cdSize;
  for (let k = 0; k < end.entries; k++) {
    if (p + CENTRAL_SIZE > cdEnd) fail(`zip: entry ${k} of the central directory runs past its end`);
    if (r.u32(p) !== SIG_CENTRAL) fail(`zip: bad central directory header at byte ${p}`);
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    const crc32 = r.u32(p + 16);
    const csize = r.u32(p + 20);
    let size = r.u32(p + 24);
    const nameLen = r.u16(p + 28);
    const extraLen = r.u16(p + 30);
    const commentLen = r.u16(p + 32);
    let local = r.u32(p + 42);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`zip: entry ${k} of the central directory runs past its end`);
    const rawName = bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen);
    let name: string;
    try {
      name = utf8.decode(rawName);
    } catch {
      fail(`zip: entry ${k} has a name that is not UTF-8`);
    }
    if (flags & 0x1) fail(`zip: entry '${name}' is encrypted`);
    if (method !== 0)
      fail(`zip: entry '${name}' is compressed (method ${method}); PyTorch writes its entries uncompressed`);
    const big = { size: size === 0xffffffff || csize === 0xffffffff, offset: local === 0xffffffff };
    if (big.size || big.offset) {
      const z = zip64Fields(r, p + CENTRAL_SIZE + nameLen, extraLen, big);
      size = z.size ?? size;
      local = z.offset ?? local;
    } else if (csize !== size) fail(`zip: entry '${name}' is stored but its two sizes differ`);
    // The local header repeats the name; its extra field (alignment padding in PyTorch's files) has its own length.
    r.need(local, LOCAL_SIZE, `the local header of '${name}'`);
    if (r.u32(local) !== SIG_LOCAL) fail(`zip: bad local header for '${name}' at byte ${local}`);
    const localName = r.u16(local + 26);
    const localExtra = r.u16(local + 28);
    const offset = local + LOCAL_SIZE + localName + localExtra;
    r.need(local + LOCAL_SIZE, localName, `the local name of '${name}'`);
    const same = localName === nameLen && rawName.every((b, i) => bytes[local + LOCAL_SIZE + i] === b);
    if (!same) fail(`zip: the local header at byte ${local} does not name '${name}'`);
    if (offset + size > end.cdOffset)
      fail(`zip: the data of '${name}' (${size} bytes at byte ${offset}) runs into the central directory`);
    if (out.has(name)) fail(`zip: two entries are named '${name}'`);
    out.set(name, { name, offset, size, crc32 });
    p = next;
  }
  return out;
}

let table: Uint32Array | undefined;
function crcTable(): Uint32Array {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  return table;
}

export function crc32(data: Uint8Array): number {
  const t = crcTable();
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An entry's bytes (a view into the archive), after checking them against the directory's CRC-32. */
export function entryData(bytes: Uint8Array, e: ZipEntry): Uint8Array {
  const data = bytes.subarray(e.offset, e.offset + e.size);
  if (crc32(data) !== e.crc32) fail(`zip: the data of '${e.name}' does not match its CRC-32 (the file is corrupt)`);
  return data;
}
