// Report generation on small synthetic runs: every figure as SVG + PNG (PNGs decode at the expected
// sizes, SVGs parse), report.html self-contained with every section, report.md linking the PNGs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Resvg } from '@resvg/resvg-js';
import { CLASS_NAMES } from '../../src/data/index.js';
import {
  buildReport,
  loadRuns,
  predictionGridSize,
  PNG_SCALE,
  renderChart,
  selectPredictions,
  specs,
} from '../../src/report/index.js';
import type { ReportOutput } from '../../src/report/index.js';
import { assertWellFormedXml, syntheticSplit, tempDir, writeSyntheticRun } from './helpers.js';

const tmp = tempDir();
const test40 = syntheticSplit(40);
let out: ReportOutput;

before(async () => {
  writeSyntheticRun(tmp.dir, { framework: 'pytorch', model: 'cnn', test: test40, accuracy: 0.9 });
  writeSyntheticRun(tmp.dir, { framework: 'keras', model: 'dense', test: test40, accuracy: 0.8, epochs: 3 });
  // A figure left over from an earlier report whose run is gone.
  writeFileSync(join(tmp.dir, 'stale.txt'), 'not a figure');
  const { runs, skipped } = loadRuns(tmp.dir);
  assert.equal(skipped.length, 0);
  out = await buildReport({
    outDir: tmp.dir,
    runs,
    test: test40,
    samples: syntheticSplit(30, 2),
    notes: ['Keras CNN is missing: test note.'],
  });
});
after(() => tmp.cleanup());

const EXPECTED_FIGURES = [
  'samples',
  'pareto',
  'validation-accuracy',
  'history-keras-dense',
  'history-pytorch-cnn',
  'confusion-keras-dense',
  'confusion-pytorch-cnn',
  'per-class',
  'confused-pairs',
  'reliability',
  'predictions-keras-dense',
  'predictions-pytorch-cnn',
];

test('every figure is written as SVG and PNG', () => {
  assert.deepEqual(out.figures.map((f) => f.id).sort(), [...EXPECTED_FIGURES].sort());
  for (const f of out.figures) {
    assert.ok(existsSync(join(tmp.dir, 'figures', `${f.id}.svg`)), f.id);
    assert.ok(existsSync(join(tmp.dir, 'figures', `${f.id}.png`)), f.id);
  }
});

test('the config line names the recipe, the optimizer, the schedule and the augmentation', () => {
  const html = readFileSync(out.html, 'utf8');
  assert.match(html, /<b>Recipe:<\/b> seed: Adam lr 0\.001; cosine schedule; no augmentation/);
  assert.ok(!/Adam lr [\d.]+, seed/.test(html), 'the old "Adam lr" config line is gone');
});

test('the PNGs decode, at the expected sizes', () => {
  for (const f of out.figures) {
    const png = PNG.sync.read(readFileSync(f.png));
    assert.equal(png.width, f.pngWidth, f.id);
    assert.equal(png.height, f.pngHeight, f.id);
    const raster = f.id === 'samples' || f.id.startsWith('predictions-');
    // Charts are drawn at PNG_SCALE x their SVG size; image grids are their own size.
    const scale = raster ? 1 : PNG_SCALE;
    assert.ok(Math.abs(png.width - f.width * scale) <= 1, `${f.id}: ${png.width} vs ${f.width * scale}`);
    assert.ok(Math.abs(png.height - f.height * scale) <= 1, `${f.id}: ${png.height} vs ${f.height * scale}`);
    assert.ok(png.width >= 300 && png.height >= 200, `${f.id} is ${png.width}x${png.height}`);
  }
  // 40 test images: 3 rows of the first 24, then a row of mistakes or the next images.
  const grid = PNG.sync.read(readFileSync(join(tmp.dir, 'figures', 'predictions-pytorch-cnn.png')));
  assert.deepEqual({ width: grid.width, height: grid.height }, predictionGridSize(4, 8));
});

test('the SVGs parse, with a size, text labels and no unresolved fonts', () => {
  for (const f of out.figures) {
    const svg = readFileSync(f.svg, 'utf8');
    const { root, elements } = assertWellFormedXml(svg);
    assert.equal(root, 'svg', f.id);
    assert.ok(elements > 2, f.id);
    const r = new Resvg(svg, { font: { loadSystemFonts: false } });
    assert.equal(Math.round(r.width), Math.round(f.width), f.id);
    if (!f.id.startsWith('predictions-') && f.id !== 'samples') {
      assert.match(svg, /font-family="DejaVu Sans/, f.id);
      assert.ok(!/NaN/.test(svg), `${f.id} has NaN`);
    }
  }
});

test('charts carry titles, axis titles, class names and a legend', () => {
  const confusion = readFileSync(join(tmp.dir, 'figures', 'confusion-pytorch-cnn.svg'), 'utf8');
  for (const s of [
    'PyTorch CNN: confusion matrix',
    'Predicted class',
    'True class',
    'Ankle boot',
    'T-shirt/top',
    'Share of true class',
  ])
    assert.ok(confusion.includes(s), s);
  const history = readFileSync(join(tmp.dir, 'figures', 'history-keras-dense.svg'), 'utf8');
  for (const s of ['Keras dense: training history', 'Epoch', 'Accuracy', 'validation', 'train', 'best epoch 2'])
    assert.ok(history.includes(s), s);
  const perClass = readFileSync(join(tmp.dir, 'figures', 'per-class.svg'), 'utf8');
  for (const s of ['Precision', 'Recall', 'F1', 'Keras dense', 'PyTorch CNN', 'Sneaker'])
    assert.ok(perClass.includes(s), s);
  assert.match(readFileSync(join(tmp.dir, 'figures', 'reliability.svg'), 'utf8'), /Expected calibration error \(ECE\)/);
  const pareto = readFileSync(join(tmp.dir, 'figures', 'pareto.svg'), 'utf8');
  for (const s of [
    'Accuracy against cost',
    'Test accuracy against training time',
    'Test accuracy against trainable parameters',
    'Training time (log scale)',
    'Trainable parameters (log scale)',
    'Keras dense',
    'PyTorch CNN',
  ])
    assert.ok(pareto.includes(s), s);
});

test('the Pareto view: one point per run on each panel, the frontier, and no figure for a single run', async () => {
  const { runs } = loadRuns(tmp.dir);
  const spec = specs.paretoSpec(runs) as unknown as {
    vconcat: { data: { values: { label: string; front: boolean }[] } }[];
  };
  assert.equal(spec.vconcat.length, 2);
  for (const panel of spec.vconcat) {
    const v = panel.data.values;
    assert.deepEqual(v.map((p) => p.label).sort(), ['Keras dense', 'PyTorch CNN']);
    // Keras dense is cheaper (fewer parameters, 3 x 3.2 s) and PyTorch CNN more accurate: both on the frontier.
    assert.ok(v.every((p) => p.front));
  }
  assert.equal(specs.paretoSpec(runs.slice(0, 1)), null);
});

test('the history figure of a run without validation data shows its training curves and the epoch it kept', () => {
  const { runs } = loadRuns(tmp.dir);
  type Hist = { title: { subtitle: string }; hconcat: { layer: { data?: { values: { label: string }[] } }[] }[] };
  const withVal = specs.historySpec(runs[0]!) as unknown as Hist;
  assert.match(withVal.title.subtitle, /training and the validation data/);
  const finalFit = { ...runs[0]!, history: runs[0]!.history.map(({ valLoss: _l, valAccuracy: _a, ...h }) => h) };
  const spec = specs.historySpec(finalFit as (typeof runs)[0]) as unknown as Hist;
  assert.match(spec.title.subtitle, /no validation split/);
  const json = JSON.stringify(spec);
  assert.ok(!json.includes('validation"'), 'no validation series or legend entry');
  assert.equal(spec.hconcat[0]!.layer[1]!.data!.values[0]!.label, `kept: epoch ${runs[0]!.metrics.bestEpoch}`);
});

test('report.html is one self-contained file with a table of contents and every section', () => {
  const html = readFileSync(out.html, 'utf8');
  assertWellFormedXml(
    html
      .replace(/^<!DOCTYPE html>\n/, '')
      .replace(/<meta[^>]*>/g, '')
      .replace(/<img([^>]*)>/g, '<img$1/>'),
  );
  const sections = [
    'comparison',
    'pareto',
    'conclusions',
    'dataset',
    'history',
    'confusion',
    'per-class',
    'confused-pairs',
    'calibration',
    'predictions',
    'runs',
  ];
  for (const id of sections) {
    assert.ok(html.includes(`<section id="${id}">`), id);
    assert.ok(html.includes(`<a href="#${id}">`), `toc ${id}`);
  }
  const srcs = [...html.matchAll(/<img src="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(srcs.length, EXPECTED_FIGURES.length);
  assert.ok(
    srcs.every((s) => s.startsWith('data:image/')),
    'every image is embedded',
  );
  assert.ok(!/(?:src|href)="(?!data:|#)/.test(html), 'nothing loaded from outside');
  for (const s of [
    'Parameters',
    'Test Accuracy',
    'Training Time',
    'Keras dense',
    'PyTorch CNN',
    'CNN vs dense',
    'Keras vs PyTorch',
    'test note',
  ])
    assert.ok(html.includes(s), s);
  assert.ok(!html.includes('NaN'));
});

test('report.md has the tables and links every PNG that exists', () => {
  const md = readFileSync(out.md, 'utf8');
  assert.match(md, /^# Fashion-MNIST/);
  assert.match(md, /\| Model \| Parameters \| Test Accuracy \| Training Time \|/);
  assert.match(md, /- \*\*CNN vs dense:\*\* /);
  const links = [...md.matchAll(/!\[[^\]]*\]\((figures\/[^)]+\.png)\)/g)].map((m) => m[1]);
  assert.deepEqual(links.map((l) => l.slice(8, -4)).sort(), [...EXPECTED_FIGURES].sort());
  for (const l of links) assert.ok(existsSync(join(tmp.dir, l)), l);
  assert.match(md, /\n1\. \[Comparison\]\(#comparison\)/);
});

test('a rebuild removes figures of runs that are gone; without images there are no grids, and it says so', async () => {
  const { runs } = loadRuns(tmp.dir);
  const pytorch = runs.filter((r) => r.id === 'pytorch-cnn');
  const again = await buildReport({ outDir: tmp.dir, runs: pytorch, test: null, samples: null });
  const ids = again.figures.map((f) => f.id);
  assert.ok(!ids.some((id) => id.startsWith('predictions-') || id === 'samples' || id.includes('keras')), ids.join());
  assert.ok(!existsSync(join(tmp.dir, 'figures', 'history-keras-dense.png')), 'stale figure removed');
  assert.ok(existsSync(join(tmp.dir, 'stale.txt')), 'leaves other files alone');
  const html = readFileSync(again.html, 'utf8');
  assert.match(html, /no sample grid/);
  assert.match(html, /PyTorch CNN: the test images were not available, so no prediction grid/);
  // Images that are not this run's test set (other labels) are refused rather than mislabelled.
  const relabelled = { ...test40, labels: test40.labels.map((l) => (l + 1) % 10) };
  const other = await buildReport({ outDir: tmp.dir, runs: pytorch, test: relabelled });
  assert.ok(!other.figures.some((f) => f.id.startsWith('predictions-')));
  assert.match(readFileSync(other.html, 'utf8'), /do not match this run/);
});

test('the prediction grid shows the first images, then the most confident mistakes', () => {
  // 6 images, 2 classes: image 4 is wrong at 0.9, image 5 wrong at 0.6; rows 2 x cols 2 -> first 2, then 4 and 5.
  const labels = Uint8Array.from([0, 1, 0, 1, 0, 1]);
  const probs = Float32Array.from([0.8, 0.2, 0.3, 0.7, 0.9, 0.1, 0.2, 0.8, 0.1, 0.9, 0.6, 0.4]);
  const { picks, mistakeRow } = selectPredictions(probs, labels, 2, 2, 2);
  assert.equal(mistakeRow, true);
  assert.deepEqual(
    picks.map((p) => p.index),
    [0, 1, 4, 5],
  );
  assert.deepEqual(
    picks.map((p) => p.predicted),
    [0, 1, 1, 0],
  );
  assert.equal(picks[2].confidence.toFixed(1), '0.9');
  // Fewer images than cells: all of them, no mistake row.
  assert.equal(selectPredictions(probs, labels, 2, 4, 8).picks.length, 6);
});

test('one chart renders on its own: spec -> SVG -> PNG', async () => {
  const { runs } = loadRuns(tmp.dir);
  const r = await renderChart(specs.reliabilitySpec(runs));
  assert.equal(r.pngWidth, Math.round(r.width * PNG_SCALE));
  assert.equal(PNG.sync.read(r.png).width, r.pngWidth);
  assert.ok(r.svg.includes(CLASS_NAMES[0]) === false, 'the reliability diagram has no class axis');
});
