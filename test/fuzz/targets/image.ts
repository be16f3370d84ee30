// Target: PNG/JPEG preprocessing (src/imaging/preprocess.ts), as `fmnist predict` and the server call it.
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { ImageError, MAX_PIXELS, preprocessImage } from '../../../src/imaging/preprocess.js';
import { invariant, unclear, type FuzzTarget } from '../harness.js';
import { mutateBytes, Rng } from '../mutate.js';
import { bigPng, encodePng, pngDataSize, mutateJpeg, mutatePng, randomPngSpec, type PngSpec } from '../formats.js';

const isPng = (b: Uint8Array) => b.length >= 4 && b[0] === 0x89 && b[1] === 0x50;
const isJpeg = (b: Uint8Array) => b.length >= 2 && b[0] === 0xff && b[1] === 0xd8;

/** A gray test pattern: a light blob on dark, like a garment. */
const pattern = (x: number, y: number, w: number, h: number) => {
  const dx = (x - w / 2) / w;
  const dy = (y - h / 2) / h;
  return dx * dx + dy * dy < 0.1 ? 200 + ((x * y) % 50) : 10;
};

function jpegOf(w: number, h: number, quality: number, color: boolean, rng?: Rng): Uint8Array {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      const v = rng ? rng.u32() & 0xff : pattern(x, y, w, h);
      data[o] = v;
      data[o + 1] = color ? (v * 3) & 0xff : v;
      data[o + 2] = color ? 255 - v : v;
      data[o + 3] = 255;
    }
  return new Uint8Array(jpeg.encode({ data, width: w, height: h }, quality).data);
}

function pngjsOf(w: number, h: number, opts: { colorType?: 0 | 2 | 4 | 6; bitDepth?: 8 | 16 } = {}): Uint8Array {
  const p = new PNG({ width: w, height: h, ...opts });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      p.data[o] = p.data[o + 1] = p.data[o + 2] = pattern(x, y, w, h);
      p.data[o + 3] = x < 2 ? 0 : 255;
    }
  return new Uint8Array(PNG.sync.write(p, opts));
}

const spec = (s: Partial<PngSpec> & Pick<PngSpec, 'width' | 'height' | 'colorType' | 'bitDepth'>): PngSpec => ({
  interlace: false,
  sample: (x, y, c) =>
    (pattern(x, y, s.width, s.height) >> (8 - Math.min(8, s.bitDepth))) * (s.bitDepth === 16 ? 257 : 1) + c * 0,
  ...s,
});

let jpegs: Uint8Array[] = [];

export const target: FuzzTarget = {
  name: 'image',
  seeds: () => [
    pngjsOf(28, 28),
    pngjsOf(40, 30, { colorType: 0 }),
    pngjsOf(9, 17, { colorType: 2, bitDepth: 16 }),
    encodePng(spec({ width: 28, height: 28, colorType: 0, bitDepth: 1, interlace: true })),
    encodePng(spec({ width: 13, height: 7, colorType: 3, bitDepth: 4, palette: 16, transparent: 3 })),
    encodePng(spec({ width: 31, height: 33, colorType: 6, bitDepth: 16, interlace: true, idatChunks: 3 })),
    encodePng(spec({ width: 3, height: 100, colorType: 4, bitDepth: 8 })),
    jpegOf(28, 28, 90, false),
    jpegOf(64, 48, 50, true),
    jpegOf(1, 1, 100, false),
    jpegOf(17, 9, 10, true),
  ],
  setup() {
    // jpeg-js takes ~100 ms to encode (its tables), too slow per execution: a pool of varied JPEGs, made once
    const rng = new Rng(7);
    jpegs = Array.from({ length: 12 }, () =>
      jpegOf(rng.range(1, 48), rng.range(1, 48), rng.range(1, 100), rng.chance(0.5), rng.chance(0.5) ? rng : undefined),
    );
  },
  generate(rng) {
    if (rng.chance(0.05)) return bigPng(rng);
    if (rng.chance(0.6)) return encodePng(randomPngSpec(rng));
    const j = rng.pick(jpegs);
    return rng.chance(0.7) ? mutateJpeg(j, rng, rng.pick(jpegs)) : j;
  },
  mutate(input, rng, other) {
    if (isPng(input) && rng.chance(0.85)) return mutatePng(input, rng, other);
    if (isJpeg(input) && rng.chance(0.85)) return mutateJpeg(input, rng, other);
    return mutateBytes(input, rng, other);
  },
  run(input) {
    const p = preprocessImage(input, { maxPixels: MAX_PIXELS });
    invariant(p.pixels.length === 784, `${p.pixels.length} pixels, not 784`);
    invariant(p.width > 0 && p.height > 0 && p.width * p.height <= MAX_PIXELS, `decoded size ${p.width}×${p.height}`);
    // a decoder must not make up pixels: a PNG whose image data ends early is corrupt, not black
    const size = isPng(input) ? pngDataSize(input) : null;
    invariant(
      !size || size.got >= size.need,
      `a PNG with ${size?.got} of the ${size?.need} bytes of image data it needs decoded`,
    );
  },
  expected: (e) => e instanceof ImageError && !unclear(e),
  timeoutMs: 3000,
};
