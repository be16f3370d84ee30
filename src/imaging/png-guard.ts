// The image data of a PNG, checked against its declared size before pngjs decodes it. pngjs bounds the inflated
// size of ordinary PNGs by their declared size, but inflates interlaced ones without a limit (so a small
// interlaced PNG could carry a zlib bomb), and when the image data ends early it decodes the rest from its output
// buffer as allocated -- uninitialized memory, whatever was there before. Both are refused here.
import { constants as bufferConstants } from 'node:buffer';
import { inflateSync } from 'node:zlib';
import { ImageError } from './errors.js';

/** Channels per PNG colour type, and the Adam7 passes (x0, y0, dx, dy): shared with the test's PNG writer. */
export const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
export const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** The bytes of filtered scanlines a width × height image needs: a filter byte and the packed pixels per row. */
function dataBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (Math.ceil((w * bitsPerPixel) / 8) + 1) : 0);
  if (!interlaced) return rows(width, height);
  let n = 0;
  for (const [x0, y0, dx, dy] of ADAM7) n += rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy));
  return n;
}

export function checkPngInflate(buf: Uint8Array): void {
  if (buf.length < 33 || buf[0] !== 0x89 || buf[1] !== 0x50 || buf[2] !== 0x4e || buf[3] !== 0x47) return;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const width = dv.getUint32(16);
  const height = dv.getUint32(20);
  const depth = buf[24];
  const channels = CHANNELS[buf[25]];
  const interlaced = buf[28] === 1;
  // an unknown colour type or bit depth, or no size: the decoder says what is wrong in its own words
  if (!channels || ![1, 2, 4, 8, 16].includes(depth) || !width || !height) return;
  const need = dataBytes(width, height, channels * depth, interlaced);
  const idat: Uint8Array[] = [];
  let i = 8;
  while (i + 8 <= buf.length) {
    const len = dv.getUint32(i);
    const type = String.fromCharCode(buf[i + 4], buf[i + 5], buf[i + 6], buf[i + 7]);
    if (type === 'IDAT') idat.push(buf.subarray(i + 8, Math.min(buf.length, i + 8 + len)));
    if (type === 'IEND') break;
    i += 12 + len;
  }
  // Adam7 may pad; anything past that is extra data, which the decoder reports
  const bound = Math.min(need + 1024, bufferConstants.MAX_LENGTH);
  let got: number;
  try {
    got = inflateSync(Buffer.concat(idat), { maxOutputLength: bound }).length;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' && interlaced)
      throw new ImageError(`PNG data inflates to more than its declared ${width}×${height} pixels`, 'too_large');
    // Other zlib errors: let the decoder report the corrupt file in its own words.
    return;
  }
  if (got < need)
    throw new ImageError(
      `corrupt PNG: the image data ends early (${got.toLocaleString('en-US')} of the ` +
        `${need.toLocaleString('en-US')} bytes its ${width}×${height} pixels need)`,
      'corrupt',
    );
}
