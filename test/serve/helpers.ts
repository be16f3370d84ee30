// Shared setup for the serving tests: tiny real PyTorch and Keras runs, image encoders, and the
// Fashion-MNIST test images.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { locateData, readIdxImages, readIdxLabels } from '../../src/data/index.js';
import { readRun } from '../../src/runs/files.js';
import { makeConfig } from '../../src/runs/config.js';
import { runTraining } from '../../src/cli/commands/train.js';

export function tempDir(prefix = 'fmnist-serve-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real (tiny) PyTorch CNN run: 1 epoch on 2,000 images. A few seconds. */
export async function trainTinyPytorch(out: string): Promise<string> {
  await runTraining(
    makeConfig({ framework: 'pytorch', model: 'cnn', epochs: 1, limit: 2000, testLimit: 500, out }),
    () => {},
  );
  return out;
}

let testSet: { images: Uint8Array; labels: Uint8Array; count: number } | null = null;
/** The 10,000 Fashion-MNIST test images (raw 0-255) and labels. */
export function fashionTest() {
  if (!testSet) {
    const src = locateData();
    if (!src) throw new Error('Fashion-MNIST not found (the serving tests need the real data)');
    const img = readIdxImages(src.files.testImages);
    testSet = { images: img.images, labels: readIdxLabels(src.files.testLabels), count: img.count };
  }
  return testSet;
}
export const testImage = (i: number) => fashionTest().images.slice(i * 784, (i + 1) * 784);

/** A real (tiny) Keras run: the dense net, 1 epoch on 2,000 images; a standard tfjs model.json + weights. */
export async function trainTinyKeras(out: string): Promise<string> {
  await runTraining(
    makeConfig({ framework: 'keras', model: 'dense', epochs: 1, limit: 2000, testLimit: 500, out }),
    () => {},
  );
  return out;
}

// ---------- images ----------

/** Gray pixels → PNG (RGBA). */
export function png(gray: Uint8Array, w: number, h: number): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    p.data[i * 4] = p.data[i * 4 + 1] = p.data[i * 4 + 2] = gray[i];
    p.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(p);
}

export function jpg(gray: Uint8Array, w: number, h: number, quality = 95): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    data[i * 4] = data[i * 4 + 1] = data[i * 4 + 2] = gray[i];
    data[i * 4 + 3] = 255;
  }
  return jpeg.encode({ data, width: w, height: h }, quality).data;
}

/** A 28×28 image scaled up k times (nearest), optionally inverted to dark-on-light like a photo on white. */
export function upscale(px: Uint8Array, k: number, invert = false): { gray: Uint8Array; w: number; h: number } {
  const w = 28 * k;
  const gray = new Uint8Array(w * w);
  for (let y = 0; y < w; y++)
    for (let x = 0; x < w; x++) {
      const v = px[Math.floor(y / k) * 28 + Math.floor(x / k)];
      gray[y * w + x] = invert ? 255 - v : v;
    }
  return { gray, w, h: w };
}

/** A multipart/form-data body with the given files. */
let bodies = 0;
export function multipartBody(
  files: { field: string; name: string; type: string; data: Uint8Array }[],
  fields: { name: string; value: string }[] = [],
  // a counter, not Math.random: tests draw from no unseeded source
  boundary = `----fmnist${++bodies}`,
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const f of fields)
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"\r\n\r\n${f.value}\r\n`));
  for (const f of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`,
      ),
      f.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A stand-in for the report's confusion-matrix picture: the matrix from metrics.json as a heat map. */
export function writeConfusionPng(dir: string): string {
  const { metrics } = readRun(dir);
  if (!metrics) throw new Error(`${dir}: no metrics.json`);
  const cm = metrics.confusionMatrix;
  const cell = 24;
  const size = cell * 10;
  const p = new PNG({ width: size, height: size });
  const max = Math.max(1, ...cm.flat());
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = Math.floor(y / cell);
      const j = Math.floor(x / cell);
      const a = cm[i][j] / max;
      const o = (y * size + x) * 4;
      const edge = y % cell === 0 || x % cell === 0;
      p.data[o] = edge ? 220 : Math.round(255 - 244 * a);
      p.data[o + 1] = edge ? 220 : Math.round(255 - 163 * a);
      p.data[o + 2] = edge ? 220 : Math.round(255 - 82 * a);
      p.data[o + 3] = 255;
    }
  mkdirSync(join(dir, 'report'), { recursive: true });
  const file = join(dir, 'report', 'confusion-matrix.png');
  writeFileSync(file, PNG.sync.write(p));
  return file;
}
