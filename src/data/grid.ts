// A labelled PNG of sample images: one row per class, the class name on the left.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';
import { DataError } from './errors.js';
import { CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, PIXELS_PER_IMAGE } from './files.js';
import { drawText, textHeight, textWidth } from './font.js';
import type { Split } from './convert.js';
import type { FashionMnist } from './load.js';

export interface SampleGridOptions {
  /** Images per class row (default 10). */
  perClass?: number;
  /** Pixel magnification of each image (default 2). */
  scale?: number;
}

const BACKGROUND = [24, 24, 24] as const;
const LABEL_COLOR: [number, number, number] = [235, 235, 235];

/** The first `perClass` indices of each class, in file order, so the grid is the same on every run. */
function firstOfEachClass(labels: Uint8Array, perClass: number): number[][] {
  const rows: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const row = rows[labels[i]];
    if (row && row.length < perClass) row.push(i);
  }
  return rows;
}

export function renderSampleGrid(split: Split, opts: SampleGridOptions = {}): PNG {
  const perClass = Math.max(1, Math.floor(opts.perClass ?? 10));
  const scale = Math.max(1, Math.floor(opts.scale ?? 2));
  const cell = IMAGE_SIZE * scale;
  const gap = 2 * scale;
  const fontScale = Math.max(1, scale);
  const labels = CLASS_NAMES.map((name, c) => `${c} ${name}`);
  const labelWidth = Math.max(...labels.map((l) => textWidth(l, fontScale))) + 4 * gap;

  const width = labelWidth + perClass * (cell + gap) + gap;
  const height = NUM_CLASSES * (cell + gap) + gap;
  const png = new PNG({ width, height });
  for (let o = 0; o < png.data.length; o += 4) {
    png.data[o] = BACKGROUND[0];
    png.data[o + 1] = BACKGROUND[1];
    png.data[o + 2] = BACKGROUND[2];
    png.data[o + 3] = 255;
  }

  const rows = firstOfEachClass(split.labels, perClass);
  for (let c = 0; c < NUM_CLASSES; c++) {
    const top = gap + c * (cell + gap);
    drawText(png, 2 * gap, top + Math.floor((cell - textHeight(fontScale)) / 2), labels[c], LABEL_COLOR, fontScale);
    rows[c].forEach((index, k) => {
      const left = labelWidth + k * (cell + gap);
      const image = split.images.subarray(index * PIXELS_PER_IMAGE, (index + 1) * PIXELS_PER_IMAGE);
      for (let y = 0; y < cell; y++) {
        const srcRow = Math.floor(y / scale) * IMAGE_SIZE;
        let o = ((top + y) * width + left) * 4;
        for (let x = 0; x < cell; x++, o += 4) {
          const v = Math.round(image[srcRow + Math.floor(x / scale)] * 255);
          png.data[o] = v;
          png.data[o + 1] = v;
          png.data[o + 2] = v;
        }
      }
    });
  }
  return png;
}

/** Writes the grid of the training split (or the given split) to `outPng`, atomically. */
export function writeSampleGrid(data: FashionMnist | Split, outPng: string, opts: SampleGridOptions = {}): void {
  const split = 'train' in data ? data.train : data;
  const bytes = PNG.sync.write(renderSampleGrid(split, opts));
  const tmp = `${outPng}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(outPng), { recursive: true });
    writeFileSync(tmp, bytes);
    renameSync(tmp, outPng);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new DataError(`${outPng}: cannot write the sample grid (${(err as Error).message})`);
  }
}
