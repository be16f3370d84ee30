// A zip writer for torch.save's archives: stored (uncompressed) entries, as PyTorch's own writer lays them out.
// Each local header carries an extra field 'FB' of 'Z' padding that puts the entry's data on a 64-byte boundary,
// so a reader may map a tensor's bytes in place. Sizes and CRC-32 go in the local header (no data descriptor);
// archives of 4 GiB or more would need ZIP64 and are refused.
import { crc32 } from './zip.js';

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

const LOCAL_SIZE = 30;
const CENTRAL_SIZE = 46;
const END_SIZE = 22;
const ALIGN = 64;
/** The extra field's id and length before its padding. */
const PAD_HEADER = 4;
const utf8 = new TextEncoder();

export function writeZip(entries: ZipInput[]): Uint8Array {
  const named = entries.map((e) => ({ ...e, raw: utf8.encode(e.name), crc: crc32(e.data), at: 0, pad: 0 }));
  let size = 0;
  for (const e of named) {
    e.at = size;
    const start = size + LOCAL_SIZE + e.raw.length + PAD_HEADER;
    e.pad = (ALIGN - (start % ALIGN)) % ALIGN;
    size = start + e.pad + e.data.length;
  }
  const cdOffset = size;
  const cdSize = named.reduce((s, e) => s + CENTRAL_SIZE + e.raw.length, 0);
  size += cdSize + END_SIZE;
  if (size >= 0xffffffff || named.length >= 0xffff)
    throw new RangeError(`save: the archive would be ${size} bytes in ${named.length} entries; zip64 is not written`);

  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  for (const e of named) {
    let p = e.at;
    v.setUint32(p, 0x04034b50, true);
    v.setUint16(p + 4, 20, true); // version needed: 2.0
    // flags 0, method 0 (stored), time and date 0: bytes 6-13 stay zero
    v.setUint32(p + 14, e.crc, true);
    v.setUint32(p + 18, e.data.length, true);
    v.setUint32(p + 22, e.data.length, true);
    v.setUint16(p + 26, e.raw.length, true);
    v.setUint16(p + 28, PAD_HEADER + e.pad, true);
    out.set(e.raw, (p += LOCAL_SIZE));
    p += e.raw.length;
    v.setUint16(p, 0x4246, true); // 'FB'
    v.setUint16(p + 2, e.pad, true);
    out.fill(0x5a, p + PAD_HEADER, p + PAD_HEADER + e.pad); // 'Z'
    out.set(e.data, p + PAD_HEADER + e.pad);
  }
  let p = cdOffset;
  for (const e of named) {
    v.setUint32(p, 0x02014b50, true);
    v.setUint16(p + 4, 20, true); // version made by
    v.setUint16(p + 6, 20, true); // version needed
    v.setUint32(p + 16, e.crc, true);
    v.setUint32(p + 20, e.data.length, true);
    v.setUint32(p + 24, e.data.length, true);
    v.setUint16(p + 28, e.raw.length, true);
    // no extra field or comment here, disk 0, no attributes
    v.setUint32(p + 42, e.at, true);
    out.set(e.raw, p + CENTRAL_SIZE);
    p += CENTRAL_SIZE + e.raw.length;
  }
  v.setUint32(p, 0x06054b50, true);
  v.setUint16(p + 8, named.length, true);
  v.setUint16(p + 10, named.length, true);
  v.setUint32(p + 12, cdSize, true);
  v.setUint32(p + 16, cdOffset, true);
  return out;
}
