// `fmnist compare` with a stand-in trainer: trains what is missing, reuses finished runs, skips a
// framework that is not available yet with a clear note, and writes the report.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildProgram } from '../../src/cli/index.js';
import { configDifferences, runCompare, trainArgs, type CompareDeps } from '../../src/cli/commands/compare.js';
import { makeConfig, type TrainConfig } from '../../src/runs/config.js';
import { MODEL_IDS } from '../../src/models/index.js';
import { LOCK_FILE } from '../../src/runs/lock.js';
import { prepareData } from '../../src/train/prepare.js';
import { train, TrainingInterrupted } from '../../src/train/loop.js';
import { syntheticSplit, tempDir, writeSyntheticRun } from './helpers.js';

const tmp = tempDir('fmnist-compare-');
after(() => tmp.cleanup());
const testSet = syntheticSplit(40);

function deps(calls: TrainConfig[], lines: string[]): Partial<CompareDeps> {
  return {
    train: async (cfg) => {
      calls.push(cfg);
      if (cfg.framework === 'keras') throw new Error('the Keras implementation is not available yet');
      if (cfg.model === 'dense' && cfg.seed === 13) throw new Error('out of memory');
      writeSyntheticRun(dirname(cfg.out), {
        framework: cfg.framework,
        model: cfg.model,
        test: testSet,
        epochs: cfg.epochs,
      });
    },
    images: async () => ({ test: testSet, samples: testSet }),
    log: (s) => lines.push(s),
  };
}

test('compare trains the runs it can, skips Keras while it is not available, and writes the report', async () => {
  const calls: TrainConfig[] = [];
  const lines: string[] = [];
  const r = await runCompare(
    {
      frameworks: ['keras', 'pytorch'],
      models: ['dense', 'cnn'],
      out: tmp.dir,
      epochs: 2,
      limit: 600,
      testLimit: 40,
      threads: 1,
    },
    deps(calls, lines),
  );
  assert.deepEqual(
    calls.map((c) => `${c.framework}-${c.model}`),
    ['keras-dense', 'keras-cnn', 'pytorch-dense', 'pytorch-cnn'],
  );
  assert.ok(calls.every((c) => c.epochs === 2 && c.limit === 600 && c.testLimit === 40 && c.threads === 1));
  assert.equal(calls[3].out, join(tmp.dir, 'pytorch-cnn'));
  assert.deepEqual(r.trained, ['pytorch-dense', 'pytorch-cnn']);
  assert.deepEqual(
    r.skipped.map((s) => [s.id, s.unavailable]),
    [
      ['keras-dense', true],
      ['keras-cnn', true],
    ],
  );
  assert.ok(
    lines.some((l) => /Keras dense: skipped \(the Keras implementation is not available yet\)/.test(l)),
    lines.join('\n'),
  );
  const html = readFileSync(join(tmp.dir, 'report.html'), 'utf8');
  assert.match(html, /Keras CNN is missing: the Keras implementation is not available yet/);
  assert.match(html, /PyTorch CNN/);
  assert.ok(r.report.figures.some((f) => f.id === 'predictions-pytorch-cnn'));
});

test('compare reuses finished runs (noting changed settings) and --retrain trains again', async () => {
  const calls: TrainConfig[] = [];
  const lines: string[] = [];
  const before = statSync(join(tmp.dir, 'pytorch-cnn', 'metrics.json')).mtimeMs;
  const r = await runCompare({ frameworks: ['pytorch'], models: ['cnn'], out: tmp.dir, epochs: 3 }, deps(calls, lines));
  assert.deepEqual(calls, []);
  assert.deepEqual(r.reused, ['pytorch-cnn']);
  assert.equal(statSync(join(tmp.dir, 'pytorch-cnn', 'metrics.json')).mtimeMs, before);
  assert.ok(
    lines.some((l) => /reusing .*pytorch-cnn.*epochs 2 \(asked 3\)/.test(l)),
    lines.join('\n'),
  );
  // Only what was asked for is in the report.
  assert.deepEqual(
    r.report.figures.filter((f) => f.id.startsWith('history-')).map((f) => f.id),
    ['history-pytorch-cnn'],
  );

  const again = await runCompare(
    { frameworks: ['pytorch'], models: ['cnn'], out: tmp.dir, retrain: true },
    deps(calls, lines),
  );
  assert.deepEqual(again.trained, ['pytorch-cnn']);
  assert.equal(calls.length, 1);
});

test('a training failure is reported as a failure, and a run being trained elsewhere is left alone', async () => {
  const calls: TrainConfig[] = [];
  const lines: string[] = [];
  // pytorch-dense exists (finished) but --retrain with seed 13 makes the stand-in fail.
  const r = await runCompare(
    { frameworks: ['pytorch'], models: ['dense'], out: tmp.dir, seed: 13, retrain: true },
    deps(calls, lines),
  );
  assert.deepEqual(r.skipped, [{ id: 'pytorch-dense', reason: 'out of memory', unavailable: false }]);
  assert.ok(lines.some((l) => l === 'PyTorch dense: training failed: out of memory'));

  // A folder whose lock names a live process, and no metrics.json: that process is training it.
  const dir = join(tmp.dir, 'busy');
  writeSyntheticRun(dir, { framework: 'pytorch', model: 'cnn', test: testSet });
  rmSync(join(dir, 'pytorch-cnn', 'metrics.json'));
  writeFileSync(join(dir, 'pytorch-cnn', LOCK_FILE), `${process.ppid}\n`);
  const busy = await runCompare({ frameworks: ['pytorch'], models: ['cnn'], out: dir }, deps(calls, lines));
  assert.equal(calls.length, 1, 'not trained over');
  assert.match(busy.skipped[0].reason, /being trained right now \(by process \d+\)/);
  // Once that process is gone (a kill -9 leaves its lock behind), the run is trained again.
  writeFileSync(join(dir, 'pytorch-cnn', LOCK_FILE), '999999999\n');
  const again = await runCompare({ frameworks: ['pytorch'], models: ['cnn'], out: dir }, deps(calls, lines));
  assert.deepEqual(again.trained, ['pytorch-cnn']);
});

test('compare resumes an interrupted run from its checkpoint instead of training it again', async () => {
  const out = join(tmp.dir, 'resume');
  const cfg = makeConfig({ framework: 'pytorch', model: 'dense', epochs: 2, limit: 600, testLimit: 40, threads: 1 });
  const dir = join(out, 'pytorch-dense');
  const data = await prepareData(cfg);
  await assert.rejects(
    train({ ...cfg, out: dir }, data, () => {}, { stopAfterStep: (e, b) => e === 1 && b === 3 }),
    TrainingInterrupted,
  );
  const resumed: boolean[] = [];
  const lines: string[] = [];
  const d = deps([], lines);
  const r = await runCompare(
    { frameworks: ['pytorch'], models: ['dense'], out, epochs: 2, limit: 600, testLimit: 40, threads: 1 },
    { ...d, train: async (c, log, resume) => (resumed.push(Boolean(resume)), d.train!(c, log, resume)) },
  );
  assert.deepEqual(resumed, [true]);
  assert.deepEqual(r.trained, ['pytorch-dense']);
  assert.ok(lines.some((l) => /resuming .*pytorch-dense from its checkpoint \(0 epochs done and 3 batches\)/.test(l)));
  // another config (here the seed) cannot continue that checkpoint: it trains afresh
  rmSync(join(dir, 'metrics.json'));
  resumed.length = 0;
  await runCompare(
    { frameworks: ['pytorch'], models: ['dense'], out, epochs: 2, limit: 600, testLimit: 40, threads: 1, seed: 9 },
    { ...d, train: async (c, log, resume) => (resumed.push(Boolean(resume)), d.train!(c, log, resume)) },
  );
  assert.deepEqual(resumed, [false]);
});

test('configDifferences names the settings that differ', () => {
  const a = makeConfig({ framework: 'pytorch', model: 'cnn', threads: 1 });
  const b = makeConfig({ framework: 'pytorch', model: 'cnn', threads: 2, limit: 1000 });
  assert.deepEqual(configDifferences(a, b), ['limit 0 (asked 1000)']);
});

test('the CLI has compare and report, and rejects unknown frameworks or models', async () => {
  const program = buildProgram();
  const names = program.commands.map((c) => c.name());
  assert.ok(names.includes('compare') && names.includes('report'));
  const compare = program.commands.find((c) => c.name() === 'compare')!;
  for (const flag of [
    '--frameworks',
    '--models',
    '--epochs',
    '--out',
    '--retrain',
    '--data-dir',
    '--limit',
    '--test-limit',
    '--seed',
    '--threads',
  ])
    assert.ok(
      compare.options.some((o) => o.long === flag),
      flag,
    );
  program.exitOverride();
  compare.exitOverride();
  await assert.rejects(
    program.parseAsync(['node', 'fmnist', 'compare', '--frameworks', 'tensorflow']),
    /comma-separated list of keras, pytorch/,
  );
  await assert.rejects(program.parseAsync(['node', 'fmnist', 'compare', '--models', 'dense,vgg']), /got 'dense,vgg'/);
});

test('--models takes every model in the registry, and the help lists them', async () => {
  const program = buildProgram();
  const compare = program.commands.find((c) => c.name() === 'compare')!;
  let seen: Record<string, unknown> = {};
  compare.action(async (o: Record<string, unknown>) => {
    seen = o;
  });
  await program.parseAsync(['node', 'fmnist', 'compare', '--models', MODEL_IDS.join(',')]);
  assert.deepEqual(seen.models, [...MODEL_IDS]);
  assert.ok(MODEL_IDS.includes('resnet') && MODEL_IDS.includes('mobilenet') && MODEL_IDS.includes('cnn-bn'));
  const help = compare.helpInformation().replace(/\s+/g, ' ');
  assert.ok(help.includes(`any of ${MODEL_IDS.join(', ')}`), help);
});

test('the child `fmnist train` gets exactly the config compare built', async () => {
  const cfg = makeConfig({
    framework: 'keras',
    model: 'dense',
    epochs: 3,
    seed: 5,
    threads: 1,
    limit: 100,
    testLimit: 50,
    dataDir: '/data/fm',
    out: '/tmp/x/keras-dense',
  });
  const program = buildProgram();
  const train = program.commands.find((c) => c.name() === 'train')!;
  let seen: Record<string, unknown> = {};
  train.action(async (o: Record<string, unknown>) => {
    seen = o;
  });
  await program.parseAsync(['node', 'fmnist', ...trainArgs(cfg)]);
  const { framework, model, epochs, batchSize, lr, seed, valSplit, patience, threads, dataDir, limit, testLimit, out } =
    seen;
  assert.deepEqual(
    makeConfig({
      framework,
      model,
      epochs,
      batchSize,
      lr,
      seed,
      valSplit,
      patience,
      threads,
      dataDir,
      limit,
      testLimit,
      out,
    }),
    cfg,
  );
});

test('the child `fmnist train` gets every key of a modern config, booleans and lists included', async () => {
  for (const cfg of [
    makeConfig({ framework: 'pytorch', model: 'resnet', recipe: 'modern', threads: 1, out: '/tmp/x/pytorch-resnet' }),
    makeConfig({
      framework: 'keras',
      model: 'cnn',
      nesterov: true,
      augment: 'crop,flip,erase',
      optimizer: 'sgd',
      threads: 1,
      out: '/tmp/x/keras-cnn',
    }),
    makeConfig({ framework: 'keras', model: 'mobilenet', nesterov: false, augment: 'none', threads: 1 }),
  ]) {
    const program = buildProgram();
    const train = program.commands.find((c) => c.name() === 'train')!;
    let seen: Record<string, unknown> = {};
    train.action(async (o: Record<string, unknown>) => {
      seen = o;
    });
    await program.parseAsync(['node', 'fmnist', ...trainArgs(cfg)]);
    const keys = Object.keys(cfg);
    assert.deepEqual(makeConfig(Object.fromEntries(keys.map((k) => [k, seen[k]]))), cfg);
  }
});

test('`fmnist report` on a folder without finished runs says so and writes nothing', async () => {
  const empty = join(tmp.dir, 'empty');
  mkdirSync(empty);
  const program = buildProgram();
  program.exitOverride();
  await assert.rejects(program.parseAsync(['node', 'fmnist', 'report', '--out', empty]), /no finished runs in/);
  assert.deepEqual(readdirSync(empty), []);
});
