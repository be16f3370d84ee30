// The one training loop, for every framework and model. It owns the epochs, the batches (gathered here, so an
// augmentation hook sees the same pixels in both frameworks), the learning-rate schedule, early stopping with
// the best weights restored, the progress bar, the history and the run folder. The framework's part is an
// engine (src/engines): build, step, evaluate, predict, snapshot, save.
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CLASS_NAMES, BatchIterator, gatherBatch } from '../data/index.js';
import { Augmenter } from '../torch/augment.js';
import { loadEngine, type EngineModel } from '../engines/index.js';
import { getModel, type ModelSpec } from '../models/index.js';
import { engineOptions, lrAt, recipeOverrides, type TrainConfig } from '../runs/config.js';
import { RECIPES } from '../runs/recipes.js';
import { lockRun } from '../runs/lock.js';
import { SHA256SUMS } from '../runs/checksums.js';
import { removeCheckpoints, writeCheckpoint, type Checkpoint } from '../runs/checkpoint.js';
import {
  METRICS_JSON,
  readRun,
  rssMB,
  TEST_PROBS,
  writeChecksums,
  writeHistory,
  writeModelPy,
  writeRunInfo,
  writeTestResults,
  type EpochRecord,
  type MetricsJson,
  type RunInfo,
} from '../runs/files.js';
import { ProgressBar } from '../util/progress.js';
import type { PreparedData } from './prepare.js';

export interface TrainResult {
  info: RunInfo;
  history: EpochRecord[];
  metrics: MetricsJson;
}

export interface TrainHooks {
  /**
   * Changes a gathered training batch in place before the step, after the config's augmentation: images are
   * n x 784 floats in [0,1].
   */
  augment?: (images: Float32Array, labels: Uint8Array, n: number, epoch: number) => void;
  /** Continue from this checkpoint of `cfg.out` (fmnist train --resume) instead of starting afresh. */
  resume?: Checkpoint;
  /** Called after every step; returning true stops the run as SIGINT does (tests use it). */
  stopAfterStep?: (epoch: number, batch: number) => boolean;
}

/** Thrown when SIGINT or SIGTERM (or hooks.stopAfterStep) stopped a run after its checkpoint was written. */
export class TrainingInterrupted extends Error {
  constructor(
    readonly signal: string,
    readonly checkpoint: string,
    readonly out: string,
  ) {
    super(
      `${signal}: stopped after the current batch; checkpoint written to ${checkpoint}. ` +
        `Continue with: fmnist train --resume ${out}`,
    );
  }
  /** The shell's exit status for death by this signal (128 + its number). */
  get exitCode(): number {
    return this.signal === 'SIGTERM' ? 143 : 130;
  }
}

/** Trains `cfg.model` with `cfg.framework` on `data` and writes the run folder `cfg.out`. */
export async function train(
  cfg: TrainConfig,
  data: PreparedData,
  log: (s: string) => void = console.log,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const spec = getModel(cfg.model);
  const engine = await loadEngine(cfg.framework);
  const unlock = lockRun(cfg.out);
  try {
    return await engine.seeded(cfg.seed, async () => {
      const model = await engine.build(spec, engineOptions(cfg));
      try {
        return await fit(model, spec, cfg, data, log, hooks);
      } finally {
        model.dispose();
      }
    });
  } finally {
    unlock();
  }
}

/** SIGINT and SIGTERM, while training: the first asks the loop to stop after its batch, a second one kills. */
function catchSignals(): { stop: () => string | null; release: () => void } {
  let caught: string | null = null;
  const on = (sig: NodeJS.Signals) => () => {
    if (caught) process.exit(sig === 'SIGTERM' ? 143 : 130);
    caught = sig;
    process.stderr.write(`\n${sig}: finishing the current batch and writing a checkpoint (again to quit now)\n`);
  };
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => [sig, on(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return { stop: () => caught, release: () => handlers.forEach(([sig, h]) => process.off(sig, h)) };
}

async function fit(
  model: EngineModel,
  spec: ModelSpec,
  cfg: TrainConfig,
  data: PreparedData,
  log: (s: string) => void,
  hooks: TrainHooks,
): Promise<TrainResult> {
  const resume = hooks.resume;
  const previous = resume ? readRun(cfg.out).info : null;
  const info: RunInfo = {
    framework: cfg.framework,
    model: cfg.model,
    params: model.params,
    config: cfg,
    recipe: { name: cfg.recipe, values: RECIPES[cfg.recipe], overrides: recipeOverrides(cfg) },
    engine: model.engine,
    definition: model.definition,
    modelFile: model.modelFile,
    data: data.summary,
    createdAt: previous?.createdAt ?? new Date().toISOString(),
    host: { cpus: availableParallelism(), node: process.version },
  };
  if (resume) {
    const at = { at: new Date().toISOString(), epoch: resume.state.epoch, batch: resume.state.batch };
    info.resumed = [...(previous?.resumed ?? []), at];
    // results of an earlier finish are stale once training goes on
    for (const f of [METRICS_JSON, TEST_PROBS]) rmSync(join(cfg.out, f), { force: true });
  } else removeCheckpoints(cfg.out);
  // the folder is unfinished until training writes SHA256SUMS again at the end
  rmSync(join(cfg.out, SHA256SUMS), { force: true });
  writeRunInfo(cfg.out, info);
  if (model.modelFile.endsWith('.pt')) writeModelPy(cfg.out, spec);
  const engineLine = Object.entries(model.engine)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  log(
    `${cfg.framework} ${cfg.model}: ${model.params.toLocaleString('en-US')} parameters, ${data.train.count} train / ${data.val?.count ?? 0} val images, ${engineLine}`,
  );

  const train = data.train;
  const batches = new BatchIterator(train.count, cfg.batchSize, cfg.seed);
  // training batches only: validation and test images are never augmented
  const augmenter = new Augmenter({ augment: cfg.augment, cropPad: cfg.cropPad, eraseP: cfg.eraseP }, cfg.seed);
  const xb = new Float32Array(cfg.batchSize * 784);
  const yb = new Uint8Array(cfg.batchSize);
  let history: EpochRecord[] = [];
  let bestLoss = Infinity;
  let bestEpoch = 0;
  let stale = 0;
  let stoppedEarly = false;
  let startEpoch = 1;
  let startBatch = 0;
  let partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };

  if (resume) {
    const s = resume.state;
    await model.loadTrainingState(resume.dir);
    try {
      batches.restore({ order: resume.order, random: s.random.batches, epochs: s.random.batchEpochs });
    } catch (e) {
      throw new Error(`${join(resume.dir, 'order.bin')}: damaged (${(e as Error).message})`, { cause: e });
    }
    augmenter.rng.state = s.random.augment;
    history = s.history;
    bestLoss = s.best.loss ?? Infinity;
    bestEpoch = s.best.epoch;
    stale = s.stale;
    stoppedEarly = s.stoppedEarly;
    startEpoch = s.epoch + 1;
    startBatch = s.batch;
    partial = s.partial;
    log(
      `resuming from ${resume.dir}: ${s.epoch} epoch${s.epoch === 1 ? '' : 's'} done` +
        (s.batch ? `, and ${s.batch} of ${batches.numBatches} batches of epoch ${s.epoch + 1}` : ''),
    );
  }

  const checkpoint = (epoch: number, batch: number, order = batches.state()) =>
    writeCheckpoint(
      cfg.out,
      {
        version: 1,
        config: cfg,
        epoch,
        batch,
        partial,
        history,
        best: { loss: Number.isFinite(bestLoss) ? bestLoss : null, epoch: bestEpoch },
        stale,
        stoppedEarly,
        random: { batches: order.random, batchEpochs: order.epochs, augment: augmenter.rng.state },
        savedAt: new Date().toISOString(),
      },
      order.order,
      (dir) => model.saveTrainingState(dir),
    );

  const signals = catchSignals();
  try {
    for (let epoch = startEpoch; epoch <= cfg.epochs && !stoppedEarly; epoch++) {
      const bar = new ProgressBar(batches.numBatches, `epoch ${epoch}/${cfg.epochs}`);
      const from = epoch === startEpoch ? startBatch : 0;
      if (from === 0) partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      let done = from;
      const t0 = performance.now();
      for (const idx of batches.epoch(from)) {
        gatherBatch(train, idx, xb, yb);
        const n = idx.length;
        augmenter.apply(xb, n);
        hooks.augment?.(xb, yb, n, epoch);
        model.setLearningRate(lrAt(cfg, epoch, done, batches.numBatches));
        const r = await model.trainStep(xb, yb, n);
        partial.lossSum += r.loss * n;
        partial.correct += r.correct;
        partial.seen += n;
        const { lossSum, correct, seen } = partial;
        bar.update(++done, { loss: (lossSum / seen).toFixed(4), acc: (correct / seen).toFixed(4) }, seen);
        const signal = signals.stop() ?? (hooks.stopAfterStep?.(epoch, done) ? 'stopped' : null);
        if (signal && done < batches.numBatches) {
          bar.done();
          partial.seconds += (performance.now() - t0) / 1000;
          throw new TrainingInterrupted(signal, await checkpoint(epoch - 1, done), cfg.out);
        }
      }
      const { lossSum, correct, seen } = partial;
      const seconds = partial.seconds + (performance.now() - t0) / 1000;
      bar.done();
      // with an EMA, the averaged weights are the ones evaluated, kept as best, and saved
      const averaged = model.swapEma();
      const v = data.val ? await model.evaluate(data.val.images, data.val.labels, data.val.count) : null;
      const rec: EpochRecord = {
        epoch,
        loss: lossSum / seen,
        accuracy: correct / seen,
        valLoss: v?.loss ?? null,
        valAccuracy: v?.accuracy ?? null,
        seconds,
        rssMB: rssMB(),
      };
      history.push(rec);
      writeHistory(cfg.out, history);
      log(formatEpoch(rec, cfg.epochs, seen / seconds));

      if (v && cfg.patience > 0) {
        if (v.loss < bestLoss) {
          bestLoss = v.loss;
          bestEpoch = epoch;
          stale = 0;
          model.snapshot();
        } else if (++stale >= cfg.patience) {
          log(`early stopping: no better validation loss for ${cfg.patience} epochs; restoring epoch ${bestEpoch}`);
          stoppedEarly = true;
        }
      } else bestEpoch = epoch;
      if (averaged) model.swapEma();
      partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      const last = epoch === cfg.epochs || stoppedEarly;
      const signal = signals.stop() ?? (hooks.stopAfterStep?.(epoch, done) ? 'stopped' : null);
      if (last || signal || (cfg.checkpointEvery > 0 && epoch % cfg.checkpointEvery === 0)) {
        const dir = await checkpoint(epoch, 0);
        if (signal && !last) throw new TrainingInterrupted(signal, dir, cfg.out);
      }
    }
  } finally {
    signals.release();
  }
  // the averaged weights are the ones saved
  model.swapEma();
  if (bestEpoch !== history.length) model.restoreSnapshot();

  await model.save(cfg.out);
  const probs = await model.predictProbs(data.test.images, data.test.count);
  const metrics = writeTestResults(cfg.out, info, history, bestEpoch, probs, data.test.labels, CLASS_NAMES);
  writeChecksums(cfg.out); // last: SHA256SUMS covers the finished folder
  log(
    `test accuracy ${metrics.testAccuracy.toFixed(4)}, test loss ${metrics.testLoss.toFixed(4)} (best epoch ${bestEpoch}); wrote ${cfg.out}`,
  );
  return { info, history, metrics };
}

export function formatEpoch(r: EpochRecord, total: number, imagesPerSecond: number): string {
  const val = r.valLoss === null ? '' : `  val_loss ${r.valLoss.toFixed(4)}  val_acc ${r.valAccuracy!.toFixed(4)}`;
  return `epoch ${String(r.epoch).padStart(String(total).length)}/${total}  loss ${r.loss.toFixed(4)}  acc ${r.accuracy.toFixed(4)}${val}  ${r.seconds.toFixed(1)}s  ${imagesPerSecond.toFixed(0)} img/s  rss ${r.rssMB.toFixed(0)} MB`;
}
