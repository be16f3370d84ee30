// pngjs bounds the inflated size of ordinary PNGs by their declared size, but inflates interlaced
// ones without a limit, so a small interlaced PNG could carry a zlib bomb. Check those first.
import { inflateSync } from 'node:zlib';
import { ImageError } from './errors.js';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function checkPngInflate(buf: Uint8Array): void {
  if (buf.length < 33 || buf[0] !== 0x89 || buf[1] !== 0x50 || buf[2] !== 0x4e || buf[3] !== 0x47) return;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const width = dv.getUint32(16);
  const height = dv.getUint32(20);
  const depth = buf[24];
  const channels = CHANNELS[buf[25]] ?? 4;
  const interlaced = buf[28] === 1;
  if (!interlaced) return;
  // Adam7 adds at most one filter byte per row of each of the 7 passes (and some padding bits).
  const rowBytes = Math.ceil((width * channels * depth) / 8) + 1;
  const bound = rowBytes * height + 7 * (height + 8) + 1024;
  const idat: Uint8Array[] = [];
  let i = 8;
  while (i + 8 <= buf.length) {
    const len = dv.getUint32(i);
    const type = String.fromCharCode(buf[i + 4], buf[i + 5], buf[i + 6], buf[i + 7]);
    if (type === 'IDAT') idat.push(buf.subarray(i + 8, Math.min(buf.length, i + 8 + len)));
    if (type === 'IEND') break;
    i += 12 + len;
  }
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: bound });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new ImageError(`PNG data inflates to more than its declared ${width}×${height} pixels`, 'too_large');
    // Other zlib errors: let the decoder report the corrupt file in its own words.
  }
}
