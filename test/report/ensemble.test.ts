// Ensemble folders (`fmnist ensemble`) and TTA results (metrics-tta.json) in the report, on hand-made folders
// that follow the contract: they load without the fields a trained run has, get their labels and badges, sit in
// the table and the Pareto view, and an ensemble's training time is its members' together.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../../src/cli/commands/compare.js';
import {
  buildReport,
  comparisonTable,
  conclusions,
  loadRun,
  loadRuns,
  paretoRows,
  runTags,
  trainingSeconds,
  type ReportOutput,
  type ReportRun,
} from '../../src/report/index.js';
import {
  patchMetrics,
  syntheticSplit,
  tempDir,
  writeEnsembleRun,
  writeSyntheticRun,
  writeTtaMetrics,
} from './helpers.js';

const tmp = tempDir('fmnist-ensemble-');
const test40 = syntheticSplit(40);
let runs: ReportRun[];
let out: ReportOutput;

before(async () => {
  // Two trained runs: dense 5 x 3.2 s, CNN 5 x 12.5 s of training (helpers.ts).
  const dense = writeSyntheticRun(tmp.dir, { framework: 'pytorch', model: 'dense', test: test40, accuracy: 0.8 });
  const cnn = writeSyntheticRun(tmp.dir, { framework: 'pytorch', model: 'cnn', test: test40, accuracy: 0.9 });
  patchMetrics(dense, { testAccuracy: 0.8 });
  patchMetrics(cnn, { testAccuracy: 0.9 });
  writeTtaMetrics(cnn, 0.025, 0.01);
  const members = [
    { dir: dense, framework: 'pytorch', model: 'dense', params: 109386 },
    // Relative, as `fmnist ensemble` may write it from another working folder: found as a sibling.
    { dir: 'elsewhere/pytorch-cnn', framework: 'pytorch', model: 'cnn', params: 225034 },
  ];
  const a = writeEnsembleRun(tmp.dir, 'ensemble-a', members, { test: test40, accuracy: 0.95 });
  // An ensemble may be evaluated with TTA afterwards too; its TTA row is labelled like ensemble-b, so renamed.
  writeTtaMetrics(a, 0.01);
  // Evaluated with TTA, and one member gone: no training time.
  writeEnsembleRun(
    tmp.dir,
    'ensemble-b',
    [...members.slice(0, 1), { dir: join(tmp.dir, 'gone'), framework: 'keras', model: 'cnn', params: 225034 }],
    { test: test40, accuracy: 0.93, tta: true, seed: 31 },
  );
  // A third ensemble of two models: same label as the first, so it is named after its folder.
  writeEnsembleRun(tmp.dir, 'ensemble-c', members, { test: test40, accuracy: 0.94, seed: 41 });
  const loaded = loadRuns(tmp.dir);
  assert.deepEqual(loaded.skipped, []);
  runs = loaded.runs;
  out = await buildReport({ outDir: tmp.dir, runs, test: test40, samples: null });
});
after(() => tmp.cleanup());

const byLabel = (label: string) => {
  const r = runs.find((x) => x.label === label);
  assert.ok(r, `no run labelled ${label}: ${runs.map((x) => x.label).join(', ')}`);
  return r;
};

test('ensembles and TTA rows get their labels, after the runs, each TTA row next to its plain run', () => {
  assert.deepEqual(
    runs.map((r) => r.label),
    [
      'PyTorch dense',
      'PyTorch CNN',
      'PyTorch CNN (TTA)',
      'Ensemble of 2',
      'Ensemble of 2 (TTA)',
      'Ensemble of 2 (TTA) (ensemble-b)',
      'Ensemble of 2 (ensemble-c)',
    ],
  );
  assert.equal(new Set(runs.map((r) => r.id)).size, runs.length, 'ids are unique (they name the figures)');
  const tta = byLabel('PyTorch CNN (TTA)');
  assert.equal(tta.ttaOf, 'pytorch-cnn');
  assert.equal(tta.tta, true);
  assert.equal(tta.metrics.testAccuracy, byLabel('PyTorch CNN').metrics.testAccuracy + 0.025);
  assert.deepEqual(
    runs.map((r) => runTags(r).map((t) => t.text)),
    [[], [], ['TTA'], ['ensemble'], ['ensemble', 'TTA'], ['ensemble', 'TTA'], ['ensemble']],
  );
  assert.equal(runTags(byLabel('Ensemble of 2'))[0].title, 'PyTorch dense + PyTorch CNN');
  // loadRun alone reads an ensemble folder too (compare uses it to decide what to reuse).
  const one = loadRun(join(tmp.dir, 'ensemble-a'));
  assert.ok(one.ok && one.run.kind === 'ensemble' && one.run.label === 'Ensemble of 2');
});

test("an ensemble's training time is its members' together, unknown when one cannot be read", () => {
  assert.equal(trainingSeconds(byLabel('Ensemble of 2')), 5 * 3.2 + 5 * 12.5);
  assert.equal(trainingSeconds(byLabel('Ensemble of 2 (TTA) (ensemble-b)')), null);
  // A TTA row keeps its run's training time and parameters.
  assert.equal(trainingSeconds(byLabel('PyTorch CNN (TTA)')), trainingSeconds(byLabel('PyTorch CNN')));
  const t = comparisonTable(runs);
  const row = (label: string) => t.rows[runs.findIndex((r) => r.label === label)];
  assert.deepEqual(row('Ensemble of 2').slice(0, 4), ['Ensemble of 2', '334,420', '95.00%', '1 min 19 s']);
  // What an ensemble's metrics.json does not have is a dash, never NaN or undefined.
  assert.deepEqual(row('Ensemble of 2 (TTA) (ensemble-b)').slice(3, 8), ['-', '-', '-', '-', '-']);
  assert.ok(!JSON.stringify(t).match(/NaN|undefined/));
});

test('the Pareto view has every row on the parameters panel, and those with a training time on the time panel', () => {
  const time = paretoRows(runs, 'seconds').map((r) => r.run.label);
  const params = paretoRows(runs, 'params').map((r) => r.run.label);
  assert.equal(params.length, runs.length);
  assert.deepEqual(
    runs.map((r) => r.label).filter((l) => !time.includes(l)),
    ['Ensemble of 2 (TTA) (ensemble-b)'],
  );
  const svg = readFileSync(join(tmp.dir, 'figures', 'pareto.svg'), 'utf8');
  for (const s of [
    'Test accuracy against training time',
    'Test accuracy against trainable parameters',
    'PyTorch CNN (TTA)',
    'Ensemble of 2 (TTA)',
    'Ensemble of 2 (ensemble-c)',
    '1 run without a known training time is only on the parameters panel',
  ])
    assert.ok(svg.includes(s), s);
  assert.ok(!/NaN/.test(svg));
});

test('the report marks the rows, shows the members, and draws per-model figures for ensembles but not TTA rows', () => {
  const html = readFileSync(out.html, 'utf8');
  assert.match(html, /<tr class="tagged"><td>PyTorch CNN <span class="tag tag-tta"[^>]*>TTA<\/span><\/td>/);
  assert.match(html, /<td>Ensemble of 2 <span class="tag tag-ensemble" title="PyTorch dense \+ PyTorch CNN">ensemble/);
  assert.match(html, /rows tagged “ensemble” combine the models listed under Runs/);
  assert.match(html, /<b>Members:<\/b> PyTorch dense \(/);
  assert.match(html, /<b>TTA:<\/b> with test-time augmentation \(metrics-tta\.json\): test accuracy 92\.50%/);
  assert.ok(html.includes('<section id="pareto">'));
  const ids = out.figures.map((f) => f.id);
  assert.ok(ids.includes('confusion-ensemble-a') && ids.includes('predictions-ensemble-a'), ids.join());
  assert.ok(!ids.some((id) => id.includes('-tta')), ids.join());
  assert.ok(!ids.some((id) => id.startsWith('history-ensemble')), 'an ensemble has no training history');
  const md = readFileSync(out.md, 'utf8');
  assert.match(md, /\| PyTorch CNN \(TTA\) \| 225,034 \| 92\.50% \|/);
  assert.match(md, /\| Ensemble of 2 \(TTA\) \|/);
});

test('conclusions: ensembles against their best member, TTA against the plain run, and the frontier', () => {
  const c = conclusions(runs);
  const text = (topic: string) => c.find((x) => x.topic === topic)?.text ?? '';
  // The models' own conclusions leave the extra rows out.
  assert.match(text('Best model'), /PyTorch CNN has the best test accuracy, 90\.00%, of the 2 models/);
  assert.match(
    text('Ensembles and TTA'),
    /Ensemble of 2 scores 95\.00% against 90\.00% for its best member, PyTorch CNN: \+5\.00 points/,
  );
  assert.match(text('Ensembles and TTA'), /PyTorch CNN with TTA: 92\.50% against 90\.00% without, \+2\.50 points/);
  assert.match(text('Pareto frontier'), /by training time, PyTorch dense \(80\.00%, 16\.0 s\), /);
});

test('compare keeps an ensemble when all its members were asked for', async () => {
  const only = async (models: string[]) =>
    (
      await writeReport(tmp.dir, {
        log: () => {},
        images: async () => null,
        only: { frameworks: ['pytorch'], models },
      })
    ).figures.map((f) => f.id);
  const both = await only(['dense', 'cnn']);
  assert.ok(both.includes('confusion-ensemble-a'), both.join());
  assert.ok(!both.includes('confusion-ensemble-b'), 'its Keras member was not asked for');
  const cnn = await only(['cnn']);
  assert.ok(!cnn.some((id) => id.includes('ensemble')), cnn.join());
});
