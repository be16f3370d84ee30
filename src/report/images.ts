// Image grids built with pngjs and labelled with the data layer's bitmap font:
// the prediction grid of a model, and the dataset's sample grid (one row per class).
import { PNG } from 'pngjs';
import {
  drawText,
  renderSampleGrid,
  textHeight,
  textWidth,
  IMAGE_SIZE,
  PIXELS_PER_IMAGE,
  type Split,
} from '../data/index.js';

type RGB = [number, number, number];
const BACKGROUND: RGB = [24, 24, 24];
const CELL_BACKGROUND: RGB = [42, 42, 42];
const TEXT: RGB = [230, 230, 230];
const MUTED: RGB = [170, 170, 170];
const RIGHT: RGB = [110, 215, 120];
const WRONG: RGB = [255, 105, 97];
const FRAME: RGB = [235, 64, 52];

/** Geometry of the prediction grid, in pixels; exported so tests can check the PNG's size. */
export const GRID = {
  imageScale: 4,
  fontScale: 2,
  cellWidth: 148,
  gap: 10,
  margin: 16,
  lineHeight: 20,
  /** Lines of text under each image: true label, prediction, confidence. */
  textLines: 3,
  /** Header lines: title and legend. */
  headerLines: 2,
  frame: 3,
} as const;

export function predictionGridSize(rows: number, cols: number): { width: number; height: number } {
  const cellHeight = cellHeightPx();
  return {
    width: 2 * GRID.margin + cols * GRID.cellWidth + (cols - 1) * GRID.gap,
    height: 2 * GRID.margin + headerHeightPx() + rows * cellHeight + (rows - 1) * GRID.gap,
  };
}

const imagePx = () => IMAGE_SIZE * GRID.imageScale;
const cellHeightPx = () => 2 * GRID.frame + 6 + imagePx() + 6 + GRID.textLines * GRID.lineHeight;
const headerHeightPx = () => GRID.headerLines * GRID.lineHeight + 8;

function fill(png: PNG, x0: number, y0: number, w: number, h: number, [r, g, b]: RGB): void {
  for (let y = Math.max(0, y0); y < Math.min(png.height, y0 + h); y++) {
    for (let x = Math.max(0, x0); x < Math.min(png.width, x0 + w); x++) {
      const o = (y * png.width + x) * 4;
      png.data[o] = r;
      png.data[o + 1] = g;
      png.data[o + 2] = b;
      png.data[o + 3] = 255;
    }
  }
}

function frame(png: PNG, x: number, y: number, w: number, h: number, t: number, color: RGB): void {
  fill(png, x, y, w, t, color);
  fill(png, x, y + h - t, w, t, color);
  fill(png, x, y, t, h, color);
  fill(png, x + w - t, y, t, h, color);
}

/** Text that fits in `maxWidth` at `scale`, cut with '..' when it does not. */
function fit(text: string, maxWidth: number, scale: number): string {
  if (textWidth(text, scale) <= maxWidth) return text;
  let s = text;
  while (s.length > 1 && textWidth(`${s}..`, scale) > maxWidth) s = s.slice(0, -1);
  return `${s}..`;
}

export interface Prediction {
  index: number;
  truth: number;
  predicted: number;
  confidence: number;
}

/**
 * Which test images to show: the first (rows-1)*cols images (the same for every model, so grids compare),
 * then a last row of the model's most confident mistakes among the rest (topped up with the next images).
 */
export function selectPredictions(
  probs: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
  rows: number,
  cols: number,
): { picks: Prediction[]; mistakeRow: boolean } {
  const n = Math.min(labels.length, Math.floor(probs.length / numClasses));
  const predict = (i: number): Prediction => {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probs[i * numClasses + c] > probs[i * numClasses + best]) best = c;
    return { index: i, truth: labels[i], predicted: best, confidence: probs[i * numClasses + best] };
  };
  const total = rows * cols;
  if (n <= total || rows < 2)
    return { picks: Array.from({ length: Math.min(n, total) }, (_, i) => predict(i)), mistakeRow: false };
  const head = total - cols;
  const picks = Array.from({ length: head }, (_, i) => predict(i));
  const mistakes: Prediction[] = [];
  for (let i = head; i < n; i++) {
    const p = predict(i);
    if (p.predicted !== p.truth) mistakes.push(p);
  }
  mistakes.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  const tail = mistakes.slice(0, cols).sort((a, b) => a.index - b.index);
  for (let i = head; tail.length < cols && i < n; i++) if (!tail.some((p) => p.index === i)) tail.push(predict(i));
  return { picks: [...picks, ...tail], mistakeRow: mistakes.length > 0 };
}

export interface PredictionGridOptions {
  rows?: number;
  cols?: number;
}

/**
 * A grid of test images with the true label, the predicted label and the confidence under each;
 * mistakes get a red frame and a red prediction. `test` holds at least as many images as `probs` rows.
 */
export function renderPredictionGrid(
  title: string,
  probs: Float32Array,
  test: Split,
  names: readonly string[],
  opts: PredictionGridOptions = {},
): PNG {
  const cols = Math.max(1, opts.cols ?? 8);
  const wantRows = Math.max(1, opts.rows ?? 4);
  const { picks, mistakeRow } = selectPredictions(probs, test.labels, names.length, wantRows, cols);
  const rows = Math.max(1, Math.ceil(picks.length / cols));
  const { width, height } = predictionGridSize(rows, cols);
  const png = new PNG({ width, height });
  fill(png, 0, 0, width, height, BACKGROUND);

  const fs = GRID.fontScale;
  const wrong = picks.filter((p) => p.predicted !== p.truth).length;
  const what = mistakeRow
    ? `first ${(rows - 1) * cols} test images, then its ${cols} most confident mistakes`
    : `first ${picks.length} test images`;
  drawText(
    png,
    GRID.margin,
    GRID.margin,
    fit(`${title}: ${what} (${wrong} wrong)`, width - 2 * GRID.margin, fs),
    TEXT,
    fs,
  );
  let x: number = GRID.margin;
  const legendY = GRID.margin + GRID.lineHeight;
  x = drawText(png, x, legendY, 'grey: true label.  ', MUTED, fs);
  x = drawText(png, x, legendY, 'green: right', RIGHT, fs);
  x = drawText(png, x, legendY, ', ', MUTED, fs);
  x = drawText(png, x, legendY, 'red, framed: wrong', WRONG, fs);
  drawText(png, x, legendY, '.  % = confidence', MUTED, fs);

  const img = imagePx();
  const cellHeight = cellHeightPx();
  const top0 = GRID.margin + headerHeightPx();
  picks.forEach((p, k) => {
    const left = GRID.margin + (k % cols) * (GRID.cellWidth + GRID.gap);
    const top = top0 + Math.floor(k / cols) * (cellHeight + GRID.gap);
    const ok = p.predicted === p.truth;
    fill(png, left, top, GRID.cellWidth, cellHeight, CELL_BACKGROUND);
    if (!ok) frame(png, left, top, GRID.cellWidth, cellHeight, GRID.frame, FRAME);
    const imgLeft = left + Math.floor((GRID.cellWidth - img) / 2);
    const imgTop = top + GRID.frame + 6;
    const pixels = test.images.subarray(p.index * PIXELS_PER_IMAGE, (p.index + 1) * PIXELS_PER_IMAGE);
    for (let y = 0; y < img; y++) {
      const src = Math.floor(y / GRID.imageScale) * IMAGE_SIZE;
      let o = ((imgTop + y) * width + imgLeft) * 4;
      for (let xx = 0; xx < img; xx++, o += 4) {
        const v = Math.max(0, Math.min(255, Math.round((pixels[src + Math.floor(xx / GRID.imageScale)] ?? 0) * 255)));
        png.data[o] = v;
        png.data[o + 1] = v;
        png.data[o + 2] = v;
      }
    }
    const textLeft = left + GRID.frame + 4;
    const maxText = GRID.cellWidth - 2 * (GRID.frame + 4);
    let y = imgTop + img + 6 + Math.floor((GRID.lineHeight - textHeight(fs)) / 2);
    const color = ok ? RIGHT : WRONG;
    for (const [text, c] of [
      [names[p.truth] ?? String(p.truth), MUTED],
      [names[p.predicted] ?? String(p.predicted), color],
      [`${(100 * p.confidence).toFixed(1)}%`, color],
    ] as [string, RGB][]) {
      drawText(png, textLeft, y, fit(text, maxText, fs), c, fs);
      y += GRID.lineHeight;
    }
  });
  return png;
}

/** The dataset's sample grid (one row per class), from the data layer. */
export function renderSamples(split: Split): PNG {
  return renderSampleGrid(split, { perClass: 12, scale: 2 });
}
