// Builds small IDX fixtures (gzip or raw) in temp folders.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const IMAGE_NAMES = { train: 'train-images-idx3-ubyte', test: 't10k-images-idx3-ubyte' };
export const LABEL_NAMES = { train: 'train-labels-idx1-ubyte', test: 't10k-labels-idx1-ubyte' };

export function tempDir(prefix = 'fmnist-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Pixel of example i at offset p: distinct per image so tests can tell examples apart. */
export function pixelValue(i: number, p: number): number {
  return (i * 7 + p) % 256;
}

export function imagesIdx(
  count: number,
  opts: { rows?: number; cols?: number; magic?: number; bodyBytes?: number } = {},
): Buffer {
  const rows = opts.rows ?? 28;
  const cols = opts.cols ?? 28;
  const body = opts.bodyBytes ?? count * rows * cols;
  const buf = Buffer.alloc(16 + body);
  buf.writeUInt32BE(opts.magic ?? 2051, 0);
  buf.writeUInt32BE(count, 4);
  buf.writeUInt32BE(rows, 8);
  buf.writeUInt32BE(cols, 12);
  for (let k = 0; k < body; k++) buf[16 + k] = pixelValue(Math.floor(k / (rows * cols)), k % (rows * cols));
  return buf;
}

export function labelsIdx(labels: number[], opts: { magic?: number; count?: number } = {}): Buffer {
  const buf = Buffer.alloc(8 + labels.length);
  buf.writeUInt32BE(opts.magic ?? 2049, 0);
  buf.writeUInt32BE(opts.count ?? labels.length, 4);
  labels.forEach((l, i) => (buf[8 + i] = l));
  return buf;
}

/** Labels cycling 0..9, so every class has count/10 examples when count is a multiple of 10. */
export function cyclingLabels(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i % 10);
}

/** Writes `bytes` as `name.gz` (default) or raw `name`; returns the path. */
export function writeIdx(dir: string, name: string, bytes: Buffer, gzip = true): string {
  const path = join(dir, gzip ? `${name}.gz` : name);
  writeFileSync(path, gzip ? gzipSync(bytes) : bytes);
  return path;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface FixtureSet {
  /** Decompressed bytes by base name. */
  files: Record<string, Buffer>;
  /** Their SHA-256, in the shape loadFashionMnist's `checksums` option takes. */
  checksums: Record<string, string>;
}

export function fixtureSet(trainCount = 30, testCount = 20): FixtureSet {
  const files: Record<string, Buffer> = {
    [IMAGE_NAMES.train]: imagesIdx(trainCount),
    [LABEL_NAMES.train]: labelsIdx(cyclingLabels(trainCount)),
    [IMAGE_NAMES.test]: imagesIdx(testCount),
    [LABEL_NAMES.test]: labelsIdx(cyclingLabels(testCount)),
  };
  const checksums = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, sha256(bytes)]));
  return { files, checksums };
}

/** Writes a complete fake dataset into `dir`. */
export function writeDataset(dir: string, opts: { gzip?: boolean; train?: number; test?: number } = {}): FixtureSet {
  const set = fixtureSet(opts.train, opts.test);
  for (const [name, bytes] of Object.entries(set.files)) writeIdx(dir, name, bytes, opts.gzip ?? true);
  return set;
}
