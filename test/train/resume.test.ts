// Resuming from a checkpoint continues a run exactly: a run stopped mid-epoch (as SIGINT stops it) or at an
// epoch's end, then resumed, ends with the loss history and weights of the same run left alone. The recipe here
// exercises every piece of state a checkpoint carries: the optimizer's moments, the one-cycle position, the data
// order, augmentation (crop, flip, erase), dropout, the weight average and the best-weights snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfig, type TrainConfig } from '../../src/runs/config.js';
import { readCheckpoint, resumeRun } from '../../src/runs/checkpoint.js';
import { prepareData, type PreparedData } from '../../src/train/prepare.js';
import { train, TrainingInterrupted, type TrainResult } from '../../src/train/loop.js';
import { resumeTraining } from '../../src/cli/commands/train.js';

const root = mkdtempSync(join(tmpdir(), 'fmnist-resume-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const quiet = () => {};

function config(framework: 'pytorch' | 'keras', out: string): TrainConfig {
  return makeConfig({
    framework,
    model: 'cnn', // it has dropout
    recipe: 'modern',
    augment: ['crop', 'flip', 'erase'],
    eraseP: 0.5,
    ema: 0.9,
    epochs: 3,
    patience: 2,
    valSplit: 0.1, // early stopping and the best weights are part of what resumes
    batchSize: 64,
    limit: 700, // 630 train images: 10 batches an epoch, the last one short
    testLimit: 200,
    threads: 1,
    seed: 7,
    out,
  });
}

/** The run folder's final weights, as bytes (model.pt, or Keras's weights.bin). */
const weights = (r: TrainResult, dir: string) =>
  readFileSync(join(dir, r.info.framework === 'pytorch' ? 'model.pt' : 'weights.bin'));

async function interrupted(cfg: TrainConfig, data: PreparedData, at: [number, number]) {
  await assert.rejects(
    train(cfg, data, quiet, { stopAfterStep: (e, b) => e === at[0] && b === at[1] }),
    (e: unknown) => e instanceof TrainingInterrupted && /--resume/.test(e.message),
  );
  return resumeRun(cfg.out, {});
}

// PyTorch: bit-for-bit. Keras runs on the same libtorch kernels, but tfjs's Adam keeps beta^t as a running
// product that its setWeights rebuilds as pow(beta, t + 1); the two may differ in float32's last bit, so a
// resumed Keras run may drift by rounding and no more. 1e-5 (on losses near 1, and on weights) is ~100 float32
// ulps: rounding, never a lost state (which moves the loss by 1e-2 here). Measured: 0 on this recipe.
const TOLERANCE = { pytorch: 0, keras: 1e-5 };

const maxDiff = (a: Buffer, b: Buffer) => {
  const x = new Float32Array(a.buffer, a.byteOffset, a.byteLength / 4);
  const y = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  return x.length === y.length ? x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0) : Infinity;
};

for (const framework of ['pytorch', 'keras'] as const) {
  test(`${framework}: stopped mid-epoch and at an epoch's end, then resumed, the run matches one left alone`, async () => {
    const data = await prepareData(config(framework, join(root, 'x')));
    const whole = config(framework, join(root, `${framework}-whole`));
    const ref = await train(whole, data, quiet);

    for (const at of [
      [2, 4],
      [1, 10],
    ] as [number, number][]) {
      const cfg = config(framework, join(root, `${framework}-stop-${at.join('-')}`));
      const r = await interrupted(cfg, data, at);
      assert.equal(r.complete, false);
      assert.equal(r.checkpoint.state.epoch, at[1] === 10 ? at[0] : at[0] - 1);
      assert.equal(r.checkpoint.state.batch, at[1] === 10 ? 0 : at[1]);
      const res = await train(r.cfg, data, quiet, { resume: r.checkpoint });
      assert.equal(res.history.length, ref.history.length);
      const tol = TOLERANCE[framework];
      res.history.forEach((h, i) => {
        const o = ref.history[i];
        for (const k of ['loss', 'accuracy', 'valLoss', 'valAccuracy'] as const)
          assert.ok(
            Math.abs(h[k]! - o[k]!) <= tol,
            `epoch ${h.epoch} ${k}: ${h[k]} resumed, ${o[k]} whole (stop ${at})`,
          );
      });
      if (tol === 0) assert.deepEqual(weights(res, cfg.out), weights(ref, whole.out), `final weights (stop ${at})`);
      else assert.ok(maxDiff(weights(res, cfg.out), weights(ref, whole.out)) <= tol, `final weights (stop ${at})`);
      assert.ok(Math.abs(res.metrics.testAccuracy - ref.metrics.testAccuracy) <= 2 / 200 + tol);
      if (framework === 'pytorch') assert.equal(res.metrics.testAccuracy, ref.metrics.testAccuracy);
    }

    // the finished run keeps its last checkpoint: resuming says it is complete, a larger --epochs trains on
    const done = readCheckpoint(whole.out)!;
    assert.equal(done.state.epoch, 3);
    const logs: string[] = [];
    assert.equal(await resumeTraining(whole.out, {}, (s) => logs.push(s)), null);
    assert.match(logs.join('\n'), /complete \(3 epochs\)/);
    const more = await resumeTraining(whole.out, { epochs: 4 }, quiet);
    assert.equal(more!.history.length, 4);
    assert.deepEqual(more!.history.slice(0, 3), ref.history);
    assert.equal(readCheckpoint(whole.out)!.state.epoch, 4);
  });
}

test('--resume refuses a changed config, a folder without checkpoints and --epochs below what is done', async () => {
  const cfg = config('pytorch', join(root, 'refuse'));
  const data = await prepareData(cfg);
  await interrupted(cfg, data, [3, 3]);
  assert.throws(() => resumeRun(cfg.out, { lr: 0.1 }), /lr 0\.1 differs from the checkpoint's 0\.002/);
  assert.throws(() => resumeRun(cfg.out, { model: 'dense' }), /model "dense" differs/);
  assert.throws(() => resumeRun(cfg.out, { epochs: 1 }), /fewer than the 2 epochs already trained/);
  assert.equal(resumeRun(cfg.out, { threads: 2 }).cfg.threads, 2); // safe to change
  rmSync(join(cfg.out, 'checkpoint'), { recursive: true });
  assert.throws(() => resumeRun(cfg.out, {}), /has no checkpoint .* cannot be resumed/);
  assert.throws(() => resumeRun(join(root, 'nothing-here'), {}), /not a run folder/);
});

// Every file of a checkpoint, damaged: with its SHA256SUMS the damage is named before anything is loaded; with
// SHA256SUMS rewritten over the damage (as a buggy writer might leave it), the parsers still refuse it with a
// message naming the file. Never a crash, never a resumed run on bad state.
const CHECKPOINT_FILES = {
  pytorch: [
    'average.pt',
    'best.pt',
    'engine.json',
    'model.pt',
    'optimizer.pt',
    'order.bin',
    'rng-state.bin',
    'state.json',
  ],
  keras: [
    'average.bin',
    'average.json',
    'best.bin',
    'best.json',
    'model.json',
    'optimizer.bin',
    'optimizer.json',
    'order.bin',
    'random.json',
    'state.json',
    'weights.bin',
  ],
};

for (const framework of ['pytorch', 'keras'] as const)
  test(`${framework}: a damaged checkpoint is refused with one line naming the file, with and without its checksums`, async () => {
    const { cli } = await import('../helpers/cli.js');
    const { writeChecksums } = await import('../../src/runs/checksums.js');
    const { cpSync, readdirSync, writeFileSync } = await import('node:fs');
    const cfg = config(framework, join(root, `damaged-src-${framework}`));
    const data = await prepareData(cfg);
    await interrupted(cfg, data, [2, 3]);
    const name = readFileSync(join(cfg.out, 'checkpoint', 'latest'), 'utf8').trim();
    const files = readdirSync(join(cfg.out, 'checkpoint', name)).filter((f) => f !== 'SHA256SUMS');
    assert.deepEqual(files.sort(), CHECKPOINT_FILES[framework]);
    const damages: [string, (b: Buffer) => Buffer][] = [
      ['truncated', (b) => b.subarray(0, Math.floor(b.length / 2))],
      ['wrong magic', (b) => Buffer.concat([Buffer.from('XXXX'), b.subarray(4)])],
      ['a flipped bit', (b) => (((b = Buffer.from(b)), (b[Math.floor(b.length / 3)] ^= 0x10)), b)],
    ];
    let n = 0;
    for (const file of files)
      for (const [what, damage] of damages)
        for (const sums of [true, false]) {
          const dir = join(root, `damaged-${framework}-${n++}`);
          cpSync(cfg.out, dir, { recursive: true });
          const path = join(dir, 'checkpoint', name, file);
          writeFileSync(path, damage(readFileSync(path)));
          if (!sums) writeChecksums(join(dir, 'checkpoint', name));
          const r = await cli(['train', '--resume', dir]);
          const label = `${file}, ${what}, ${sums ? 'with' : 'without'} checksums`;
          if (!sums && r.exitCode === 0) {
            // without checksums, a same-length change of raw bytes (.bin files: floats, the generator's state, with no
            // header at all), or
            // a flipped bit in a float or a JSON number, cannot be told from a value: it trains on
            assert.ok(what === 'a flipped bit' || file.endsWith('.bin'), `${label}: went unnoticed`);
            continue;
          }
          assert.equal(r.exitCode, 1, `${label}: exit code (${r.stderr})`);
          const lines = r.stderr
            .trim()
            .split('\n')
            .filter((l) => !l.startsWith('fmnist: note:'));
          assert.equal(lines.length, 1, `${label}: one line\n${r.stderr}`);
          assert.ok(lines[0].includes(sums ? `${path}: damaged` : path), `${label}: names the file: ${lines[0]}`);
        }
    // the pointer itself
    const dir = join(root, `damaged-latest-${framework}`);
    cpSync(cfg.out, dir, { recursive: true });
    writeFileSync(join(dir, 'checkpoint', 'latest'), 'garbage\n');
    assert.match((await cli(['train', '--resume', dir])).stderr, /checkpoint\/latest: damaged/);
    writeFileSync(join(dir, 'checkpoint', 'latest'), '0009\n');
    assert.match((await cli(['train', '--resume', dir])).stderr, /checkpoint\/latest: names 0009, which is not there/);
  });
