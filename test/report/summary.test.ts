// The numbers of the report, on hand-computed cases: the comparison table and the computed conclusions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { averages, perClassMetrics } from '../../src/runs/metrics.js';
import { makeConfig, type Arch, type Framework, type TrainConfig } from '../../src/runs/config.js';
import type { MetricsJson } from '../../src/runs/files.js';
import {
  comparisonTable,
  conclusions,
  confusedPairsTable,
  formatDuration,
  paretoFrontier,
  perClassTable,
  recipeSummary,
  summedConfusion,
} from '../../src/report/summary.js';
import { placeLabels } from '../../src/report/specs.js';
import { runColors, runLabel, sortRuns, type ReportRun } from '../../src/report/runs.js';

const NAMES = ['A', 'B', 'C'];
// A: p 8/9 r 0.8 f1 0.842; B: p 10/15 r 1 f1 0.8; C: p 1 r 0.6 f1 0.75. Mistakes: C->B 3, A->B 2, C->A 1.
const CM = [
  [8, 2, 0],
  [0, 10, 0],
  [1, 3, 6],
];

function fakeRun(
  framework: Framework,
  model: Arch,
  m: { acc: number; params: number; seconds: number; ips: number; ece?: number },
  cm = CM,
): ReportRun {
  const perClass = perClassMetrics(cm, NAMES);
  const metrics: MetricsJson = {
    framework,
    model,
    params: m.params,
    testAccuracy: m.acc,
    testLoss: 0.3,
    trainSeconds: m.seconds,
    epochs: 10,
    bestEpoch: 8,
    valAccuracy: m.acc + 0.01,
    valLoss: 0.28,
    imagesPerSecond: m.ips,
    peakRssMB: 512.4,
    perClass,
    ...averages(perClass),
    confusionMatrix: cm,
    ece: m.ece ?? 0.02,
    reliability: [],
  };
  const info = {
    framework,
    model,
    params: m.params,
    config: makeConfig({ framework, model, threads: 1 }),
  } as ReportRun['info'];
  return {
    id: `${framework}-${model}`,
    label: runLabel(framework, model),
    dir: `/x/${framework}-${model}`,
    info,
    history: [],
    metrics,
    probs: null,
  };
}

const KD = fakeRun('keras', 'dense', { acc: 0.85, params: 100_000, seconds: 60, ips: 9000, ece: 0.03 });
const KC = fakeRun('keras', 'cnn', { acc: 0.9, params: 200_000, seconds: 180, ips: 3000, ece: 0.01 });
const PD = fakeRun('pytorch', 'dense', { acc: 0.86, params: 100_000, seconds: 50, ips: 10800, ece: 0.02 });
const PC = fakeRun('pytorch', 'cnn', { acc: 0.92, params: 200_000, seconds: 150, ips: 3600, ece: 0.05 });
const ALL = [KD, KC, PD, PC];

const topic = (runs: ReportRun[], t: string) => conclusions(runs).find((c) => c.topic === t)?.text ?? '';

test('formatDuration: seconds, minutes, hours', () => {
  assert.equal(formatDuration(42.34), '42.3 s');
  assert.equal(formatDuration(151), '2 min 31 s');
  assert.equal(formatDuration(3725), '1 h 02 min');
  assert.equal(formatDuration(Number.NaN), '-');
});

test('comparison table: the seed columns first, then the added ones, formatted', () => {
  const t = comparisonTable([KD, PC]);
  assert.deepEqual(t.header.slice(0, 4), ['Model', 'Parameters', 'Test Accuracy', 'Training Time']);
  for (const h of ['Val Accuracy', 'Epochs (best)', 'Images/s', 'Peak RSS', 'Test Loss'])
    assert.ok(t.header.includes(h), h);
  assert.deepEqual(t.rows[0], [
    'Keras dense',
    '100,000',
    '85.00%',
    '1 min 00 s',
    '86.00%',
    '10 (8)',
    '9,000',
    '512 MB',
    '0.3000',
    '0.0300',
  ]);
  assert.equal(t.rows[1][0], 'PyTorch CNN');
  assert.equal(t.numeric[0], false);
  assert.equal(t.numeric[2], true);
});

test('conclusions: CNN gain in points per framework, with parameter and time ratios', () => {
  const text = topic(ALL, 'CNN vs dense');
  assert.match(
    text,
    /Keras: the CNN scores 90\.00% against the dense net's 85\.00%, \+5\.00 points, with 2\.0× the parameters and 3\.0× the training time/,
  );
  assert.match(text, /PyTorch: the CNN scores 92\.00% against the dense net's 86\.00%, \+6\.00 points/);
});

test('conclusions: Keras vs PyTorch per model', () => {
  const text = topic(ALL, 'Keras vs PyTorch');
  assert.match(text, /Dense net: PyTorch 86\.00% vs Keras 85\.00%, PyTorch ahead by 1\.00 points/);
  assert.match(text, /CNN: PyTorch 92\.00% vs Keras 90\.00%, PyTorch ahead by 2\.00 points/);
  assert.match(text, /10,800 vs 9,000 images\/s/);
  const keras = fakeRun('keras', 'cnn', { acc: 0.95, params: 1, seconds: 1, ips: 1 });
  assert.match(topic([keras, PC], 'Keras vs PyTorch'), /Keras ahead by 3\.00 points/);
});

test('conclusions: best model, accuracy per 1k parameters, calibration', () => {
  assert.match(topic(ALL, 'Best model'), /PyTorch CNN has the best test accuracy, 92\.00%, of the 4 models/);
  assert.equal(
    topic(ALL, 'Accuracy per 1k parameters'),
    'PyTorch dense 0.86, Keras dense 0.85, PyTorch CNN 0.46 and Keras CNN 0.45 accuracy points per 1,000 parameters; PyTorch dense makes the most of its parameters.',
  );
  assert.match(
    topic(ALL, 'Calibration'),
    /Best calibrated: Keras CNN \(ECE 0\.0100\); least: PyTorch CNN \(ECE 0\.0500\)/,
  );
});

test('conclusions: hardest and easiest classes by mean F1, most-confused pairs summed over models', () => {
  const classes = topic(ALL, 'Hardest and easiest classes');
  assert.match(classes, /hardest class is C \(F1 0\.750\); the easiest A \(F1 0\.842\)/);
  assert.match(classes, /Every model finds C hardest/);
  assert.deepEqual(summedConfusion(ALL)[2], [4, 12, 24]);
  assert.equal(
    topic(ALL, 'Most-confused pairs'),
    'True → predicted, summed over the 4 models: C → B, 12 images (30.0% of C); A → B, 8 images (20.0% of A); C → A, 4 images (10.0% of C).',
  );
});

test('conclusions: what cannot be measured says so, instead of inventing numbers', () => {
  const only = conclusions([PC]);
  assert.match(only.find((c) => c.topic === 'Best model')!.text, /the only model/);
  assert.match(only.find((c) => c.topic === 'CNN vs dense')!.text, /^Not measured/);
  assert.match(only.find((c) => c.topic === 'Keras vs PyTorch')!.text, /^Not measured/);
  assert.match(topic([PD, PC], 'Keras vs PyTorch'), /^Not measured: no model was trained in both frameworks/);
  assert.deepEqual(conclusions([]), []);
});

test('per-class table: a class never predicted shows precision 0, never NaN; macro and weighted rows', () => {
  const never = fakeRun('pytorch', 'dense', { acc: 0.5, params: 10, seconds: 1, ips: 1 }, [
    [5, 0, 0],
    [5, 0, 0],
    [0, 0, 0],
  ]);
  const t = perClassTable([never]);
  assert.equal(t.rows.length, 5);
  assert.deepEqual(t.rows[1], ['B', '5', '0.000 / 0.000 / 0.000']);
  assert.equal(t.rows[3][0], 'macro avg');
  assert.equal(t.rows[4][0], 'weighted avg');
  assert.ok(!JSON.stringify(t).includes('NaN'));
});

test('confused-pairs table: top pairs per model, side by side', () => {
  const t = confusedPairsTable([KD, PC], 5);
  assert.deepEqual(t.header, ['#', 'Keras dense', 'PyTorch CNN']);
  assert.equal(t.rows.length, 3);
  assert.equal(t.rows[0][1], 'C → B: 3 (30.0%)');
});

test('runs sort Keras before PyTorch, dense before CNN, and keep one colour each', () => {
  assert.deepEqual(
    sortRuns([PC, KD, PD, KC]).map((r) => r.id),
    ['keras-dense', 'keras-cnn', 'pytorch-dense', 'pytorch-cnn'],
  );
  const c = runColors(ALL);
  assert.deepEqual(c.domain, ['Keras dense', 'Keras CNN', 'PyTorch dense', 'PyTorch CNN']);
  assert.equal(new Set(c.range).size, 4);
});

test('Pareto frontier: the points no other point beats on both cost and accuracy, cheapest first', () => {
  // x: cost (lower is better), y: accuracy (higher is better).
  const pts = [
    { x: 10, y: 0.8 }, // 0: cheapest: on the frontier
    { x: 20, y: 0.9 }, // 1: on
    { x: 30, y: 0.85 }, // 2: beaten by 1 (cheaper and better)
    { x: 40, y: 0.95 }, // 3: on
    { x: 40, y: 0.93 }, // 4: beaten by 3 (same cost, lower accuracy)
    { x: 50, y: 0.95 }, // 5: beaten by 3 (same accuracy, higher cost)
    { x: 5, y: 0.7 }, // 6: cheapest of all: on
    { x: Number.NaN, y: 0.99 }, // 7: no cost: left out
  ];
  assert.deepEqual(paretoFrontier(pts), [6, 0, 1, 3]);
  // Equal points do not beat each other; one point is its own frontier; none is none.
  assert.deepEqual(
    paretoFrontier([
      { x: 1, y: 0.5 },
      { x: 1, y: 0.5 },
    ]),
    [0, 1],
  );
  assert.deepEqual(paretoFrontier([{ x: 3, y: 0.1 }]), [0]);
  assert.deepEqual(paretoFrontier([]), []);
  // The best accuracy at the highest cost is still on it.
  assert.deepEqual(
    paretoFrontier([
      { x: 100, y: 0.99 },
      { x: 1, y: 0.5 },
    ]),
    [1, 0],
  );
});

test("recipe line: an old run.json without recipe keys falls back to the seed's Adam, cosine, no augmentation", () => {
  const old = JSON.parse(
    readFileSync(new URL('../fixtures/old-runs/keras-dense/run.json', import.meta.url), 'utf8'),
  ) as { config: Partial<TrainConfig> };
  assert.equal(old.config.recipe, undefined);
  assert.equal(
    recipeSummary(old.config),
    'none recorded (an older run, from before recipes): Adam lr 0.001; cosine schedule; no augmentation',
  );
  // A config with nothing but the seed's keys says the same.
  assert.match(recipeSummary({ lr: 0.002 }), /^none recorded .*: Adam lr 0\.002; cosine schedule; no augmentation$/);
});

test('recipe line: the recipe, optimizer, schedule, regularizers and augmentation, compactly', () => {
  const seed = makeConfig({ framework: 'pytorch', model: 'cnn', threads: 1 });
  assert.equal(recipeSummary(seed), 'seed: Adam lr 0.001; cosine schedule; no augmentation');
  const modern = makeConfig({ framework: 'pytorch', model: 'resnet', recipe: 'modern', threads: 1 });
  assert.equal(
    recipeSummary(modern),
    'modern: Adam lr 0.002; onecycle schedule, 1 warm-up epoch; label smoothing 0.1; augmentation crop (pad 2), flip, erase (p 0.25)',
  );
  const custom = makeConfig({
    framework: 'keras',
    model: 'cnn',
    optimizer: 'adamw',
    weightDecay: 0.05,
    warmupEpochs: 2,
    lrSchedule: 'constant',
    ema: 0.999,
    augment: 'crop,erase',
    cropPad: 3,
    eraseP: 0.5,
    threads: 1,
  });
  assert.equal(
    recipeSummary(custom, { name: 'seed', values: custom, overrides: { optimizer: 'adamw', weightDecay: 0.05 } }),
    'seed: AdamW lr 0.001, weight decay 0.05 (decoupled); constant schedule, 2 warm-up epochs; EMA 0.999; ' +
      'augmentation crop (pad 3), erase (p 0.5) (changed from the recipe: optimizer, weightDecay)',
  );
});

test('labels are placed without overlapping each other or the points, inside the plot', () => {
  // A tight cluster of six points, one far away, in a 300 x 200 plot.
  const pts = [
    [100, 100],
    [104, 96],
    [108, 104],
    [96, 108],
    [110, 92],
    [100, 112],
    [280, 10],
  ].map(([x, y]) => ({ x, y, w: 70, h: 13 }));
  const placed = placeLabels(pts, 300, 200);
  const inter = (a: { x: number; y: number; w: number; h: number }, b: typeof a) =>
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  for (const [i, p] of placed.entries()) {
    assert.ok(p.box.x >= 0 && p.box.y >= 0 && p.box.x + p.box.w <= 300 && p.box.y + p.box.h <= 200, `label ${i}`);
    for (const [j, q] of placed.entries()) if (i < j) assert.ok(!inter(p.box, q.box), `labels ${i} and ${j}`);
    for (const pt of pts) assert.ok(!inter(p.box, { x: pt.x - 4, y: pt.y - 4, w: 8, h: 8 }), `label ${i} on a point`);
  }
  // The lone point near the top-right corner keeps its label beside it, on the side with room.
  assert.equal(placed[6].align, 'right');
  assert.equal(placed[6].leader, false);
});
