// The PyTorch engine: fmnist's torch API (libtorch) behind the loop's adapter: torch.optim's update rules and
// cross-entropy (with label smoothing); the model is saved as a state_dict with Python's keys (model.pt).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import type { ModelSpec } from '../models/index.js';
import { readJson, writeFileAtomic } from '../util/fsutil.js';
import { cpuHasBf16 } from '../util/cpu.js';
import {
  emaDecayAt,
  type Engine,
  type EngineModel,
  type EngineOptions,
  type OptimizerSpec,
  type Precision,
  type StepResult,
} from './types.js';

const F = torch.nn.functional;
export const MODEL_PT = 'model.pt';
const OPTIMIZER_PT = 'optimizer.pt';
const BEST_PT = 'best.pt';
const AVERAGE_PT = 'average.pt';
const ENGINE_JSON = 'engine.json';
const RANDOM_BIN = 'rng-state.bin';

const images = (x: Float32Array, n: number) => torch.fromTypedArray(x.subarray(0, n * 784), [n, 1, 28, 28]);
// Images per inference call (validation, test, TTA, serve). 256 keeps each activation of the widest model under
// the addon's 32 MB mmap threshold, so freed memory is reused instead of faulted in afresh. The resnet's 10,000
// float32 test predictions in a training run: 12.6 s at 1,000 a call, about 4 s at 256 with nn.Sequential freeing
// its intermediates (2 Zen 5 cores).
export const INFERENCE_CHUNK = 256;
const labels = (y: Uint8Array, n: number) => torch.fromTypedArray(y.subarray(0, n), [n], 'int64');

/** The layout of a model's 4-D weights: FMNIST_MEMORY_FORMAT (for the bench's comparison), else the spec's. */
export function memoryFormat(spec: ModelSpec): torch.MemoryFormat {
  const v = process.env.FMNIST_MEMORY_FORMAT;
  if (v === undefined || v === '') return spec.memoryFormat ?? torch.contiguousFormat;
  if (v === 'channelsLast' || v === 'contiguousFormat') return v;
  throw new Error(`FMNIST_MEMORY_FORMAT must be channelsLast or contiguousFormat, not '${v}'`);
}

/** The training forward's precision: an explicit one as asked, 'auto' the spec's where the CPU computes bf16 natively. */
export function trainingPrecision(spec: ModelSpec, requested: Precision): 'float32' | 'bfloat16' {
  if (requested !== 'auto') return requested;
  return spec.autocast && cpuHasBf16() ? spec.autocast : 'float32';
}

/** torch.optim's optimizer for `o`, over the model's parameters. */
export function makeTorchOptimizer(params: torch.Tensor[], o: OptimizerSpec): torch.optim.Optimizer {
  const { lr, weightDecay } = o;
  switch (o.name) {
    case 'sgd':
      return new torch.optim.SGD(params, {
        lr,
        momentum: o.momentum,
        nesterov: o.nesterov && o.momentum > 0,
        weightDecay,
      });
    case 'adam':
      return new torch.optim.Adam(params, { lr, weightDecay });
    case 'adamw':
      return new torch.optim.AdamW(params, { lr, weightDecay });
    case 'radam':
      return new torch.optim.RAdam(params, { lr, weightDecay });
  }
}

/** A moving average of every state_dict entry: floats averaged, integers (num_batches_tracked) copied. */
class WeightAverage {
  readonly pairs: [live: torch.Tensor, avg: torch.Tensor][];
  t = 0;
  constructor(
    model: torch.nn.Module,
    readonly decay: number,
  ) {
    this.pairs = torch.withDisposeScope((scope) =>
      torch.noGrad(() => [...model.stateDict().values()].map((v) => [v, scope.detach(v.detach().clone())])),
    );
  }
  update(): void {
    const d = emaDecayAt(this.decay, this.t++);
    torch.noGrad(() => {
      for (const [v, a] of this.pairs)
        if (v.dtype === 'float32') a.lerp_(v, 1 - d);
        else a.copy_(v);
    });
  }
  swap(): void {
    torch.noGrad(() =>
      torch.tidy(() => {
        for (const [v, a] of this.pairs) {
          const live = v.clone();
          v.copy_(a);
          a.copy_(live);
        }
      }),
    );
  }
  dispose(): void {
    for (const [, a] of this.pairs) a.dispose();
  }
}

class PytorchModel implements EngineModel {
  readonly params: number;
  readonly engine: Record<string, string>;
  readonly modelFile = MODEL_PT;
  readonly definition: string;
  private opt: torch.optim.Optimizer | null = null;
  private best: Map<string, torch.Tensor> | null = null;
  private steps = 0;
  private readonly labelSmoothing: number;
  private average: WeightAverage | null = null;
  private readonly bf16: boolean;

  constructor(
    readonly model: torch.nn.Module,
    spec: ModelSpec,
    opts?: EngineOptions,
  ) {
    // With NHWC weights oneDNN runs the convolutions, BatchNorm and pooling without a reorder per call (the spec
    // says where that pays). Only the layout changes: values, the state_dict and model.pt stay the same.
    model.to({ memoryFormat: memoryFormat(spec) });
    this.params = model.numParameters();
    this.bf16 = opts !== undefined && trainingPrecision(spec, opts.precision) === 'bfloat16';
    this.engine = {
      libtorch: torch.libtorchVersion,
      threads: String(torch.getNumThreads()),
      ...(opts && { precision: this.bf16 ? 'bfloat16 (autocast)' : 'float32' }),
    };
    this.definition = spec.definition ?? `${spec.id}: see model.py`;
    if (opts) this.opt = makeTorchOptimizer(model.parameters(), opts.optimizer);
    this.labelSmoothing = opts?.labelSmoothing ?? 0;
    if (opts?.ema) this.average = new WeightAverage(model, opts.ema);
  }

  setLearningRate(lr: number): void {
    this.optimizer().lr = lr;
  }

  private optimizer() {
    if (!this.opt) throw new Error('pytorch: this model was loaded for inference and has no optimizer');
    return this.opt;
  }

  /** The training-time forward: under autocast the convolutions run in bfloat16, and the logits come back float32. */
  private forward(x: torch.Tensor): torch.Tensor {
    return this.bf16 ? torch.autocast({}, () => this.model.call(x)).float() : this.model.call(x);
  }

  async trainStep(x: Float32Array, y: Uint8Array, n: number): Promise<StepResult> {
    const opt = this.optimizer();
    this.model.train();
    const r = torch.tidy(() => {
      const yb = labels(y, n);
      opt.zeroGrad();
      const logits = this.forward(images(x, n));
      const loss = F.crossEntropy(logits, yb, { labelSmoothing: this.labelSmoothing });
      loss.backward();
      opt.step();
      this.average?.update();
      return { loss: loss.item(), correct: torch.noGrad(() => logits.argmax(1).eq(yb).sum().item()) };
    });
    if (++this.steps % 8 === 0) await torch.tick(); // see tick(): lets finalizers run, keeps RSS flat
    return r;
  }

  // The loop's validation, each epoch: in the training precision (bfloat16 halves its cost, about 1.4 s of the
  // resnet's 28 s epoch). Test predictions (predictProbs) and every saved file stay float32.
  async evaluate(x: Float32Array, y: Uint8Array, n: number, chunk = INFERENCE_CHUNK) {
    let loss = 0;
    let correct = 0;
    this.model.eval();
    for (let i = 0; i < n; i += chunk) {
      const len = Math.min(chunk, n - i);
      torch.noGrad(() =>
        torch.tidy(() => {
          const yb = labels(y.subarray(i), len);
          const logits = this.forward(images(x.subarray(i * 784), len));
          loss += F.crossEntropy(logits, yb, { reduction: 'sum' }).item();
          correct += logits.argmax(1).eq(yb).sum().item();
        }),
      );
      await torch.tick();
    }
    return { loss: loss / n, accuracy: correct / n };
  }

  async predictProbs(x: Float32Array, n: number, chunk = INFERENCE_CHUNK): Promise<Float32Array> {
    return predictProbs(this.model, x, n, chunk);
  }

  swapEma(): boolean {
    this.average?.swap();
    return this.average !== null;
  }

  snapshot(): void {
    this.best?.forEach((t) => t.dispose());
    this.best = torch.withDisposeScope((scope) => {
      const copy = new Map<string, torch.Tensor>();
      torch.noGrad(() => {
        for (const [k, v] of this.model.stateDict()) copy.set(k, scope.detach(v.detach().clone()));
      });
      return copy;
    });
  }

  restoreSnapshot(): boolean {
    if (!this.best) return false;
    this.model.loadStateDict(this.best);
    return true;
  }

  async save(dir: string): Promise<void> {
    writeFileAtomic(join(dir, MODEL_PT), torch.saveStateDict(this.model.stateDict()));
  }

  // A checkpoint: model.pt, optimizer.pt (torch's optimizer.state_dict() layout, which Python's
  // load_state_dict reads), best.pt and average.pt when there are such, and the generator's state (torch.get_rng_state()).
  async saveTrainingState(dir: string): Promise<void> {
    const opt = this.optimizer();
    await this.save(dir);
    writeFileAtomic(
      join(dir, OPTIMIZER_PT),
      torch.withDisposeScope(() => torch.save(opt.stateDict())),
    );
    if (this.best) writeFileAtomic(join(dir, BEST_PT), torch.saveStateDict(this.best));
    if (this.average) {
      const keys = [...this.model.stateDict().keys()];
      const avg = new Map(this.average.pairs.map(([, a], i) => [keys[i], a]));
      writeFileAtomic(join(dir, AVERAGE_PT), torch.saveStateDict(avg));
    }
    writeFileAtomic(join(dir, ENGINE_JSON), JSON.stringify({ averageSteps: this.average?.t ?? 0, steps: this.steps }));
    writeFileAtomic(join(dir, RANDOM_BIN), torch.getRngState());
  }

  async loadTrainingState(dir: string): Promise<void> {
    const opt = this.optimizer();
    const read = (f: string) => torch.load(join(dir, f));
    const fill = (target: Map<string, torch.Tensor>, f: string) => {
      const sd = read(f);
      try {
        for (const [k, t] of target) {
          const v = sd.get(k);
          if (!v || v.shape.join() !== t.shape.join())
            throw new Error(`${join(dir, f)}: '${k}' is missing or has another shape`);
          torch.noGrad(() => t.copy_(v));
        }
      } finally {
        sd.forEach((t) => t.dispose());
      }
    };
    const weights = read(MODEL_PT);
    try {
      this.model.loadStateDict(weights);
    } catch (e) {
      throw new Error(`${join(dir, MODEL_PT)}: ${(e as Error).message}`, { cause: e });
    } finally {
      weights.forEach((t) => t.dispose());
    }
    const file = join(dir, OPTIMIZER_PT);
    try {
      // loadStateDict copies what it keeps: the loaded tensors go with the scope
      torch.withDisposeScope(() => opt.loadStateDict(torch.loadObject(readFileSync(file), file)));
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(m.startsWith(file) ? m : `${file}: ${m}`, { cause: e });
    }
    this.best?.forEach((t) => t.dispose());
    this.best = existsSync(join(dir, BEST_PT)) ? read(BEST_PT) : null;
    if (this.average) {
      const keys = [...this.model.stateDict().keys()];
      fill(new Map(this.average.pairs.map(([, a], i) => [keys[i], a])), AVERAGE_PT);
    }
    const r = readJson<{ averageSteps: number; steps: number }>(join(dir, ENGINE_JSON), 'checkpoint random state');
    if (this.average) this.average.t = r.averageSteps;
    this.steps = r.steps;
    try {
      torch.setRngState(new Uint8Array(readFileSync(join(dir, RANDOM_BIN))));
    } catch (e) {
      throw new Error(`${join(dir, RANDOM_BIN)}: damaged (${(e as Error).message})`, { cause: e });
    }
  }

  dispose(): void {
    this.best?.forEach((t) => t.dispose());
    this.best = null;
    this.average?.dispose();
    this.average = null;
    this.opt?.dispose();
    this.opt = null;
    this.model.dispose();
  }
}

/** Class probabilities (n x 10) for images already scaled to [0,1], in inference mode. */
export function predictProbs(
  model: torch.nn.Module,
  x: Float32Array,
  n: number,
  chunk = INFERENCE_CHUNK,
): Float32Array {
  const out = new Float32Array(n * 10);
  model.eval();
  torch.noGrad(() => {
    for (let i = 0; i < n; i += chunk)
      torch.tidy(() => {
        const len = Math.min(chunk, n - i);
        out.set(
          model
            .call(images(x.subarray(i * 784), len))
            .softmax(1)
            .toFloat32(),
          i * 10,
        );
      });
  });
  return out;
}

export const pytorchEngine: Engine = {
  id: 'pytorch',

  async seeded(seed, fn) {
    torch.manualSeed(seed);
    return fn();
  },

  async build(spec: ModelSpec, opts: EngineOptions) {
    torch.setNumThreads(opts.threads);
    return new PytorchModel(spec.pytorch(torch), spec, opts);
  },

  async load(dir: string, modelFile: string, spec: ModelSpec | undefined) {
    const file = join(dir, modelFile);
    if (!spec) throw new Error(`${join(dir, 'run.json')}: unknown model (a PyTorch run needs its architecture)`);
    const model = spec.pytorch(torch);
    const sd = torch.loadStateDict(readFileSync(file), file);
    try {
      model.loadStateDict(sd);
    } catch (e) {
      model.dispose();
      throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
    } finally {
      sd.forEach((t) => t.dispose());
    }
    model.eval();
    return new PytorchModel(model, spec);
  },
};
