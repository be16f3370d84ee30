// The PyTorch implementation's training loop: Adam, cross-entropy, early stopping on the
// validation loss with the best weights restored, as pytorch/examples' mnist/main.py does it.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import { PYTORCH_MODELS, PYTHON_DEFINITIONS } from '../models/pytorch.js';
import { CLASS_NAMES, BatchIterator, type Split } from '../data/index.js';
import { writeFileAtomic } from '../util/fsutil.js';
import { lrForEpoch, type TrainConfig } from '../runs/config.js';
import { ProgressBar } from '../util/progress.js';
import {
  rssMB,
  writeHistory,
  writeRunInfo,
  writeTestResults,
  type EpochRecord,
  type RunInfo,
  type MetricsJson,
} from '../runs/files.js';
import type { PreparedData } from './prepare.js';

const F = torch.nn.functional;

/** Images as a native [n,1,28,28] float tensor and labels as int64, kept outside dispose scopes. */
function toTensors(split: Split): { x: torch.Tensor; y: torch.Tensor } {
  return torch.withDisposeScope((scope) => ({
    x: scope.detach(torch.fromTypedArray(split.images, [split.count, 1, 28, 28])),
    y: scope.detach(torch.fromTypedArray(split.labels, [split.count], 'int64')),
  }));
}

/** Mean loss and accuracy over a split, without gradients, in chunks. */
export async function evaluateModel(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, chunk = 1000) {
  const n = x.shape[0];
  let loss = 0;
  let correct = 0;
  model.eval();
  for (let i = 0; i < n; i += chunk) {
    torch.noGrad(() =>
      torch.tidy(() => {
        const len = Math.min(chunk, n - i);
        const xb = x.narrow(0, i, len);
        const yb = y.narrow(0, i, len);
        const logits = model.call(xb);
        loss += F.crossEntropy(logits, yb, { reduction: 'sum' }).item();
        correct += logits.argmax(1).eq(yb).sum().item();
      }),
    );
    await torch.tick();
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** Class probabilities (n × 10) for images already scaled to [0,1]. */
export function predictProbs(model: torch.nn.Module, images: Float32Array, n: number, chunk = 1000): Float32Array {
  const out = new Float32Array(n * 10);
  model.eval();
  torch.noGrad(() => {
    for (let i = 0; i < n; i += chunk)
      torch.tidy(() => {
        const len = Math.min(chunk, n - i);
        const xb = torch.fromTypedArray(images.subarray(i * 784, (i + len) * 784), [len, 1, 28, 28]);
        out.set(model.call(xb).softmax(1).toFloat32(), i * 10);
      });
  });
  return out;
}

function snapshot(model: torch.nn.Module): Map<string, torch.Tensor> {
  return torch.withDisposeScope((scope) => {
    const copy = new Map<string, torch.Tensor>();
    torch.noGrad(() => {
      for (const [k, v] of model.stateDict()) copy.set(k, scope.detach(v.detach().clone()));
    });
    return copy;
  });
}

export interface TrainResult {
  info: RunInfo;
  history: EpochRecord[];
  metrics: MetricsJson;
}

export async function trainPytorch(
  cfg: TrainConfig,
  data: PreparedData,
  log: (s: string) => void = console.log,
): Promise<TrainResult> {
  torch.setNumThreads(cfg.threads);
  torch.manualSeed(cfg.seed);
  const model = PYTORCH_MODELS[cfg.model]();
  const params = model.numParameters();
  const opt = new torch.optim.Adam(model.parameters(), { lr: cfg.lr });
  const train = toTensors(data.train);
  const val = data.val ? toTensors(data.val) : null;
  const info: RunInfo = {
    framework: 'pytorch',
    model: cfg.model,
    params,
    config: cfg,
    engine: { libtorch: torch.libtorchVersion, threads: String(torch.getNumThreads()) },
    definition: PYTHON_DEFINITIONS[cfg.model],
    modelFile: 'model.pt',
    data: data.summary,
    createdAt: new Date().toISOString(),
    host: { cpus: availableParallelism(), node: process.version },
  };
  writeRunInfo(cfg.out, info);
  log(
    `pytorch ${cfg.model}: ${params.toLocaleString('en-US')} parameters, ${data.train.count} train / ${data.val?.count ?? 0} val images, libtorch ${torch.libtorchVersion}, ${torch.getNumThreads()} threads`,
  );

  const batches = new BatchIterator(data.train.count, cfg.batchSize, cfg.seed);
  const history: EpochRecord[] = [];
  let best: Map<string, torch.Tensor> | null = null;
  let bestLoss = Infinity;
  let bestEpoch = 0;
  let stale = 0;

  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    model.train();
    opt.lr = lrForEpoch(cfg, epoch);
    const bar = new ProgressBar(batches.numBatches, `epoch ${epoch}/${cfg.epochs}`);
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let done = 0;
    const t0 = performance.now();
    for (const idx of batches.epoch()) {
      torch.tidy(() => {
        const index = torch.fromTypedArray(idx, [idx.length]);
        const xb = train.x.indexSelect(0, index);
        const yb = train.y.indexSelect(0, index);
        opt.zeroGrad();
        const logits = model.call(xb);
        const loss = F.crossEntropy(logits, yb);
        loss.backward();
        opt.step();
        lossSum += loss.item() * idx.length;
        correct += torch.noGrad(() => logits.argmax(1).eq(yb).sum().item());
      });
      seen += idx.length;
      done++;
      if (done % 8 === 0) await torch.tick(); // see tick(): keeps RSS flat
      bar.update(done, { loss: (lossSum / seen).toFixed(4), acc: (correct / seen).toFixed(4) }, seen);
    }
    const seconds = (performance.now() - t0) / 1000;
    bar.done();
    const v = val ? await evaluateModel(model, val.x, val.y) : null;
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
        best?.forEach((t) => t.dispose());
        best = snapshot(model);
      } else if (++stale >= cfg.patience) {
        log(`early stopping: no better validation loss for ${cfg.patience} epochs; restoring epoch ${bestEpoch}`);
        break;
      }
    } else bestEpoch = epoch;
  }
  if (best) {
    model.loadStateDict(best);
    best.forEach((t) => t.dispose());
  }

  writeFileAtomic(join(cfg.out, 'model.pt'), torch.saveStateDict(model.stateDict()));
  const probs = predictProbs(model, data.test.images, data.test.count);
  const metrics = writeTestResults(cfg.out, info, history, bestEpoch, probs, data.test.labels, CLASS_NAMES);
  log(
    `test accuracy ${metrics.testAccuracy.toFixed(4)}, test loss ${metrics.testLoss.toFixed(4)} (best epoch ${bestEpoch}); wrote ${cfg.out}`,
  );

  for (const t of [train.x, train.y, val?.x, val?.y]) t?.dispose();
  model.dispose();
  return { info, history, metrics };
}

export function formatEpoch(r: EpochRecord, total: number, imagesPerSecond: number): string {
  const val = r.valLoss === null ? '' : `  val_loss ${r.valLoss.toFixed(4)}  val_acc ${r.valAccuracy!.toFixed(4)}`;
  return `epoch ${String(r.epoch).padStart(String(total).length)}/${total}  loss ${r.loss.toFixed(4)}  acc ${r.accuracy.toFixed(4)}${val}  ${r.seconds.toFixed(1)}s  ${imagesPerSecond.toFixed(0)} img/s  rss ${r.rssMB.toFixed(0)} MB`;
}
