// The one training loop, for every framework and model. It owns the epochs, the batches (gathered here, so an
// augmentation hook sees the same pixels in both frameworks), the learning-rate schedule, early stopping with
// the best weights restored, the progress bar, the history and the run folder. The framework's part is an
// engine (src/engines): build, step, evaluate, predict, snapshot, save.
import { availableParallelism } from 'node:os';
import { CLASS_NAMES, BatchIterator, gatherBatch } from '../data/index.js';
import { Augmenter } from '../torch/augment.js';
import { loadEngine, type EngineModel } from '../engines/index.js';
import { getModel, type ModelSpec } from '../models/index.js';
import { engineOptions, lrAt, recipeOverrides, type TrainConfig } from '../runs/config.js';
import { RECIPES } from '../runs/recipes.js';
import {
  rssMB,
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
  return engine.seeded(cfg.seed, async () => {
    const model = await engine.build(spec, engineOptions(cfg));
    try {
      return await fit(model, spec, cfg, data, log, hooks);
    } finally {
      model.dispose();
    }
  });
}

async function fit(
  model: EngineModel,
  spec: ModelSpec,
  cfg: TrainConfig,
  data: PreparedData,
  log: (s: string) => void,
  hooks: TrainHooks,
): Promise<TrainResult> {
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
    createdAt: new Date().toISOString(),
    host: { cpus: availableParallelism(), node: process.version },
  };
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
  const history: EpochRecord[] = [];
  let bestLoss = Infinity;
  let bestEpoch = 0;
  let stale = 0;

  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const bar = new ProgressBar(batches.numBatches, `epoch ${epoch}/${cfg.epochs}`);
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let done = 0;
    const t0 = performance.now();
    for (const idx of batches.epoch()) {
      gatherBatch(train, idx, xb, yb);
      const n = idx.length;
      augmenter.apply(xb, n);
      hooks.augment?.(xb, yb, n, epoch);
      model.setLearningRate(lrAt(cfg, epoch, done, batches.numBatches));
      const r = await model.trainStep(xb, yb, n);
      lossSum += r.loss * n;
      correct += r.correct;
      seen += n;
      bar.update(++done, { loss: (lossSum / seen).toFixed(4), acc: (correct / seen).toFixed(4) }, seen);
    }
    const seconds = (performance.now() - t0) / 1000;
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
        break;
      }
    } else bestEpoch = epoch;
    if (averaged && epoch < cfg.epochs) model.swapEma();
  }
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
