// Target: the IDX reader (src/data/idx.ts), raw and gzip, images and labels, sync and async.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataError, parseIdxImages, parseIdxLabels, readIdxImages, readIdxLabels } from '../../../src/data/index.js';
import { readIdxBytesAsync } from '../../../src/data/idx.js';
import { invariant, unclear, type FuzzTarget } from '../harness.js';
import { mutateBytes, type Rng } from '../mutate.js';
import { concat } from '../formats.js';

function header(magic: number, dims: number[]): Uint8Array {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic >>> 0, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d >>> 0, 4 + 4 * i));
  return b;
}

const images = (count: number) =>
  concat([header(0x803, [count, 28, 28]), Uint8Array.from({ length: count * 784 }, (_, i) => (i * 7) & 0xff)]);
const labels = (list: number[]) => concat([header(0x801, [list.length]), Uint8Array.from(list)]);

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const gzip = (b: Uint8Array, rng: Rng) => new Uint8Array(gzipSync(b, { level: rng.range(0, 9) }));

let dir = '';
let n = 0;

const expected = (e: unknown) => e instanceof DataError && !unclear(e);

/** Runs one reader: an unexpected error is thrown at once; an expected one is returned (the next reader still runs). */
function check(what: 'images' | 'labels', path: string, f: () => unknown): unknown {
  try {
    const r = f();
    if (what === 'images') {
      const im = r as ReturnType<typeof readIdxImages>;
      invariant(im.images.length === im.count * im.rows * im.cols, `images: ${im.images.length} bytes for ${im.count}`);
      invariant(im.images.byteOffset === 0, 'images: not at the start of its buffer');
    } else
      invariant(
        (r as Uint8Array).every((x) => x < 10),
        'labels: a label out of range got through',
      );
    return null;
  } catch (e) {
    if (!expected(e)) throw e;
    invariant((e as Error).message.includes(path), `a DataError without the file's name: ${(e as Error).message}`);
    return e;
  }
}

export const target: FuzzTarget = {
  name: 'idx',
  setup() {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-fuzz-idx-'));
  },
  close() {
    rmSync(dir, { recursive: true, force: true });
  },
  seeds: () => [
    images(2),
    new Uint8Array(gzipSync(images(3))),
    labels([0, 9, 3, 1]),
    new Uint8Array(gzipSync(labels([5, 5, 2, 7, 0, 1, 8]))),
    images(0),
    labels([]),
  ],
  generate(rng) {
    const magic = rng.pick([0x803, 0x801, 0x802, 0x808, 0x0803_0000, 0x0d03, rng.u32()]);
    const ndim = magic === 0x801 ? 1 : magic === 0x803 ? 3 : rng.range(0, 4);
    const count = rng.chance(0.8) ? rng.int(4) : rng.pick([0xffffffff, 0x7fffffff, 60000, 1 << 20]);
    const dims = [
      count,
      ...Array.from({ length: Math.max(0, ndim - 1) }, () =>
        rng.chance(0.8) ? 28 : rng.pick([0, 1, 27, 29, 0xffffffff]),
      ),
    ];
    const per = dims.slice(1).reduce((a, b) => a * b, 1);
    const want = Math.min(count * per, 1 << 16);
    const body = rng.bytes(Math.max(0, want + (rng.chance(0.6) ? 0 : rng.range(-5, 5))));
    if (magic === 0x801) body.forEach((_, i) => (body[i] = body[i] % (rng.chance(0.9) ? 10 : 256)));
    let file = concat([header(magic, dims), body]);
    if (rng.chance(0.5)) {
      file = gzip(file, rng);
      if (rng.chance(0.15)) file = concat([file, gzip(rng.bytes(rng.int(50)), rng)]); // a second gzip member
      if (rng.chance(0.15)) file = concat([file, rng.bytes(rng.range(1, 20))]); // trailing garbage
    }
    return file;
  },
  mutate(input, rng, other) {
    if (isGzip(input) && rng.chance(0.6)) {
      // mutate what is inside the gzip, so the mutation reaches the IDX parser
      try {
        return gzip(mutateBytes(new Uint8Array(gunzipSync(input)), rng, other), rng);
      } catch {
        return mutateBytes(input, rng, other);
      }
    }
    const m = mutateBytes(input, rng, other);
    return !isGzip(m) && rng.chance(0.2) ? gzip(m, rng) : m;
  },
  async run(input) {
    const path = join(dir, `f${n++ % 4}`);
    writeFileSync(path, input);
    const errors = [check('images', path, () => readIdxImages(path)), check('labels', path, () => readIdxLabels(path))];
    let bytes: Uint8Array | null = null;
    try {
      bytes = await readIdxBytesAsync(path);
    } catch (e) {
      if (!expected(e)) throw e;
      errors.push(e);
    }
    if (bytes) {
      const b = bytes;
      errors.push(
        check('images', path, () => parseIdxImages(b, path)),
        check('labels', path, () => parseIdxLabels(b, path)),
      );
    }
    // an input is one kind of file at most, so a reader refuses it: the refusals together are the outcome
    const refusals = errors.filter((e): e is DataError => e instanceof DataError);
    if (refusals.length) throw new DataError(refusals.map((e) => e.message.replace(path, 'FILE')).join(' | '));
  },
  expected,
  timeoutMs: 2000,
};
