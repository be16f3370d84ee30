import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import {
  CLASS_NAMES,
  GLYPH_HEIGHT,
  drawText,
  pixelStats,
  renderSampleGrid,
  shapeNCHW,
  shapeNHWC,
  textWidth,
  toFloatImages,
  writeSampleGrid,
  type Split,
} from '../../src/data/index.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
after(tmp.cleanup);

describe('pixel conversion', () => {
  test('every byte maps to exactly pixel/255 in float32', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const floats = toFloatImages(bytes);
    for (let i = 0; i < 256; i++) assert.equal(floats[i], Math.fround(i / 255));
    assert.equal(floats[255], 1);
  });

  test('pixelStats gives mean and population std', () => {
    const split: Split = { images: Float32Array.from([0, 1, 0, 1]), labels: new Uint8Array(0), count: 0 };
    assert.deepEqual(pixelStats(split), { mean: 0.5, std: 0.5 });
  });

  test('NHWC and NCHW shapes describe the same bytes', () => {
    const split: Split = { images: new Float32Array(3 * 784), labels: new Uint8Array(3), count: 3 };
    assert.deepEqual(shapeNHWC(split), [3, 28, 28, 1]);
    assert.deepEqual(shapeNCHW(split), [3, 1, 28, 28]);
  });
});

describe('font', () => {
  test('textWidth counts 5 pixels per glyph plus 1 between', () => {
    assert.equal(textWidth(''), 0);
    assert.equal(textWidth('A'), 5);
    assert.equal(textWidth('Ab', 2), 22);
  });

  test('drawText sets pixels inside the text box only, clipping at the edges', () => {
    const width = 20;
    const height = 10;
    const png = { data: Buffer.alloc(width * height * 4), width };
    const end = drawText(png, 1, 1, 'T', [255, 0, 0], 1);
    assert.equal(end, 6);
    // T's top bar: row 0 of the glyph, columns 0-4.
    for (let x = 1; x <= 5; x++) assert.equal(png.data[(1 * width + x) * 4], 255);
    let lit = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (png.data[(y * width + x) * 4 + 3] === 0) continue;
        lit++;
        assert.ok(x >= 1 && x <= 5 && y >= 1 && y < 1 + GLYPH_HEIGHT, `pixel at ${x},${y}`);
      }
    }
    assert.equal(lit, 11);
    // Text running off the image must not throw or wrap.
    drawText(png, 15, 7, 'Wg?~', [1, 2, 3], 3);
  });
});

describe('sample grid', () => {
  const split: Split = {
    images: Float32Array.from({ length: 30 * 784 }, (_, k) => (k % 784) / 783),
    labels: Uint8Array.from({ length: 30 }, (_, i) => i % 10),
    count: 30,
  };

  test('has one row per class and draws the labels on the left', () => {
    const png = renderSampleGrid(split, { perClass: 3, scale: 2 });
    assert.equal(png.height, 10 * (56 + 4) + 4);
    const labelWidth = textWidth(`0 ${CLASS_NAMES[0]}`, 2) + 16;
    assert.equal(png.width, labelWidth + 3 * 60 + 4);
    // Some label pixels are light.
    let light = 0;
    for (let y = 0; y < 60; y++)
      for (let x = 0; x < labelWidth; x++) if (png.data[(y * png.width + x) * 4] > 200) light++;
    assert.ok(light > 50);
  });

  test('writes a PNG atomically and leaves no temp file', () => {
    const out = join(tmp.dir, 'sub', 'grid.png');
    writeSampleGrid(split, out, { perClass: 2, scale: 1 });
    assert.ok(existsSync(out));
    assert.deepEqual(readdirSync(join(tmp.dir, 'sub')), ['grid.png']);
    const png = PNG.sync.read(readFileSync(out));
    assert.equal(png.height, 10 * 30 + 2);
  });
});
