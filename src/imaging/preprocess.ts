// Any PNG or JPEG -> the 28×28 grayscale input the models were trained on: white-on-black,
// the garment fitted and centred. Used by `fmnist predict` and the server.
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

import { ImageError } from './errors.js';
import { checkPngInflate } from './png-guard.js';

export { ImageError } from './errors.js';

export interface Preprocessed {
  /** 784 bytes, 0-255, white garment on black, like Fashion-MNIST. */
  pixels: Uint8Array;
  width: number;
  height: number;
  format: 'png' | 'jpeg' | 'raw';
  inverted: boolean;
  resized: boolean;
  /** What was done, in words, for people and for the API's answer. */
  steps: string[];
}

/** Refuse images whose declared size would decode to more than this many pixels (decompression bombs). */
export const MAX_PIXELS = 16_000_000;

export function sniffFormat(buf: Uint8Array): 'png' | 'jpeg' | null {
  if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  return null;
}

/** Reads width and height from the header without decoding, so a bomb is refused before it costs memory. */
export function declaredSize(buf: Uint8Array, format: 'png' | 'jpeg'): { width: number; height: number } | null {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (format === 'png') {
    if (buf.length < 24) return null;
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  // JPEG: walk the segments to the first start-of-frame marker.
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    const len = dv.getUint16(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7) };
    i += 2 + len;
  }
  return null;
}

/**
 * The decoder's own words for a bad file. When it trips over malformed data inside itself (a TypeError such as
 * jpeg-js's "Cannot read properties of undefined" for a table it never got), those words say nothing to the user.
 */
function decoderMessage(e: unknown): string {
  if (e instanceof Error && e.constructor === Error && e.message) return e.message;
  return 'the data is malformed or cut short';
}

interface Gray {
  data: Float32Array;
  width: number;
  height: number;
}

function decode(buf: Uint8Array, maxPixels: number): { gray: Gray; format: 'png' | 'jpeg' } {
  const format = sniffFormat(buf);
  if (!format) throw new ImageError('not a PNG or JPEG image', 'unsupported');
  const size = declaredSize(buf, format);
  if (!size) throw new ImageError(`corrupt ${format.toUpperCase()}: no readable header`, 'corrupt');
  if (size.width === 0 || size.height === 0)
    throw new ImageError(`corrupt ${format.toUpperCase()}: zero size`, 'corrupt');
  if (size.width * size.height > maxPixels)
    throw new ImageError(
      `image is ${size.width}×${size.height}, more than the ${maxPixels.toLocaleString('en-US')}-pixel limit`,
      'too_large',
    );
  if (format === 'png') checkPngInflate(buf);
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (format === 'png') {
      const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
      rgba = png.data;
      width = png.width;
      height = png.height;
    } else {
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: 512,
      });
      rgba = img.data;
      width = img.width;
      height = img.height;
    }
  } catch (e) {
    throw new ImageError(`corrupt ${format.toUpperCase()}: ${decoderMessage(e)}`, 'corrupt');
  }
  // Transparent pixels count as white paper, as a clothes photo on white would be.
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = rgba[i * 4];
    const g = rgba[i * 4 + 1];
    const b = rgba[i * 4 + 2];
    const a = rgba[i * 4 + 3] / 255;
    data[i] = (0.299 * r + 0.587 * g + 0.114 * b) * a + 255 * (1 - a);
  }
  return { gray: { data, width, height }, format };
}

/** Area-average resampling: good for shrinking photos, fine for the occasional enlargement. */
function resize(src: Gray, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  const sx = src.width / w;
  const sy = src.height / h;
  for (let y = 0; y < h; y++) {
    const y0 = y * sy;
    const y1 = Math.max(y0 + 1e-6, (y + 1) * sy);
    for (let x = 0; x < w; x++) {
      const x0 = x * sx;
      const x1 = Math.max(x0 + 1e-6, (x + 1) * sx);
      let sum = 0;
      let area = 0;
      for (let yy = Math.floor(y0); yy < Math.ceil(y1) && yy < src.height; yy++) {
        const wy = Math.min(yy + 1, y1) - Math.max(yy, y0);
        for (let xx = Math.floor(x0); xx < Math.ceil(x1) && xx < src.width; xx++) {
          const wx = Math.min(xx + 1, x1) - Math.max(xx, x0);
          sum += src.data[yy * src.width + xx] * wx * wy;
          area += wx * wy;
        }
      }
      out[y * w + x] = area > 0 ? sum / area : 0;
    }
  }
  return out;
}

/** Mean of the outermost ring of pixels: the background's brightness. */
function borderMean(g: Gray): number {
  let s = 0;
  let n = 0;
  for (let x = 0; x < g.width; x++) {
    s += g.data[x] + g.data[(g.height - 1) * g.width + x];
    n += 2;
  }
  for (let y = 1; y < g.height - 1; y++) {
    s += g.data[y * g.width] + g.data[y * g.width + g.width - 1];
    n += 2;
  }
  return s / n;
}

/** Fits the image into 28×28 keeping its aspect ratio, centred, and inverts light backgrounds. */
export function preprocessGray(gray: Gray, format: Preprocessed['format']): Preprocessed {
  const steps: string[] = [];
  const inverted = borderMean(gray) > 127;
  if (inverted) {
    for (let i = 0; i < gray.data.length; i++) gray.data[i] = 255 - gray.data[i];
    steps.push('inverted (light background)');
  }
  const resized = gray.width !== 28 || gray.height !== 28;
  const pixels = new Uint8Array(784);
  if (resized) {
    const scale = 28 / Math.max(gray.width, gray.height);
    const w = Math.max(1, Math.round(gray.width * scale));
    const h = Math.max(1, Math.round(gray.height * scale));
    const small = resize(gray, w, h);
    const ox = Math.floor((28 - w) / 2);
    const oy = Math.floor((28 - h) / 2);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        pixels[(oy + y) * 28 + ox + x] = Math.round(Math.min(255, Math.max(0, small[y * w + x])));
    steps.push(`resized ${gray.width}×${gray.height} → ${w}×${h}, centred in 28×28`);
  } else {
    for (let i = 0; i < 784; i++) pixels[i] = Math.round(Math.min(255, Math.max(0, gray.data[i])));
  }
  if (format !== 'raw')
    steps.unshift(`decoded ${format.toUpperCase()} ${gray.width}×${gray.height}, converted to grayscale`);
  return { pixels, width: gray.width, height: gray.height, format, inverted, resized, steps };
}

export function preprocessImage(buf: Uint8Array, opts: { maxPixels?: number } = {}): Preprocessed {
  const { gray, format } = decode(buf, opts.maxPixels ?? MAX_PIXELS);
  return preprocessGray(gray, format);
}

/** 784 pixel values (0-255) as given: no inversion or resizing, since they are already model input. */
export function fromPixels(values: ArrayLike<number>): Preprocessed {
  if (values.length !== 784) throw new ImageError(`expected 784 pixels, got ${values.length}`, 'corrupt');
  return {
    pixels: Uint8Array.from(values),
    width: 28,
    height: 28,
    format: 'raw',
    inverted: false,
    resized: false,
    steps: [],
  };
}

export function toModelInput(list: Preprocessed[]): Float32Array {
  const out = new Float32Array(list.length * 784);
  list.forEach((p, i) => {
    for (let j = 0; j < 784; j++) out[i * 784 + j] = p.pixels[j] / 255;
  });
  return out;
}
