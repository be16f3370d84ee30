// Issue 11: why does the Keras CNN trail the PyTorch CNN? The seed CNN in both frameworks from the same initial weights
// (PyTorch's, copied into Keras), dropout off, trained on the same real Fashion-MNIST batches in the same order:
//
//   1. forward outputs and one step's gradients, per weight: PyTorch (libtorch autograd) against Keras on our 'torch'
//      backend and on tfjs's pure-JS 'cpu' backend (the reference for our kernels);
//   2. ~300 steps of plain SGD and of Adam: the loss per step and the per-layer relative weight difference at
//      checkpoints, for Keras variants (categoricalCrossentropy on the softmax, as the engine trains; a log-softmax
//      cross-entropy from logits; tfjs's Adam and a torch.optim.Adam rewritten in tfjs ops; eps 1e-7 / 1e-8) and for a
//      float32 "chaos" baseline: PyTorch against itself from weights perturbed by one ulp;
//   3. gradients at matched weights along the PyTorch trajectory (Keras given PyTorch's weights at step k), which
//      separates a systematic difference in the step from the divergence of two trajectories;
//   4. how often categoricalCrossentropy's probability clipping ([1e-7, 1 - 1e-7], zero gradient outside) fires.
//
//   nice -n 19 node --import tsx bench/parity.ts [--steps 300] [--batch 64] [--seed 1] [--sgd-lr 0.05]
//       [--adam-lr 1e-3] [--threads 1] [--only check,sgd,adam,matched,clip] [--no-cpu] [--json out.json]
//       [--jitter 1e-3] [--dump check.json] [--clip-epochs 5]
//
// --no-cpu skips part 1 on tfjs-cpu (a few minutes); --jitter adds U(0, a) noise to part 1's batch, so that no max-pool
// window holds equal values; --dump writes part 1's batch, weights and gradients for a float64 check in Python;
// --clip-epochs trains part 4 for whole epochs of the seed recipe (dropout on) instead of --steps steps.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import {
  BatchIterator,
  gatherBatch,
  loadFashionMnist,
  mulberry32,
  stratifiedSplit,
  subset,
} from '../src/data/index.js';
import { cosineLr } from '../src/util/schedules.js';
import { makeKerasOptimizer } from '../src/engines/keras-optimizers.js';
import { getModel } from '../src/models/index.js';
import { useTorchBackend } from '../src/tfjs-backend/index.js';
import * as torch from '../src/torch/index.js';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '300' },
    batch: { type: 'string', default: '64' },
    seed: { type: 'string', default: '1' },
    'sgd-lr': { type: 'string', default: '0.05' },
    'adam-lr': { type: 'string', default: '1e-3' },
    threads: { type: 'string', default: '1' },
    'no-cpu': { type: 'boolean', default: false },
    only: { type: 'string', default: 'check,sgd,adam,matched,clip' },
    json: { type: 'string' },
    dump: { type: 'string' },
    jitter: { type: 'string', default: '0' },
    'clip-epochs': { type: 'string', default: '0' },
  },
});
const STEPS = Number(args.steps);
const BATCH = Number(args.batch);
const SEED = Number(args.seed);
const SGD_LR = Number(args['sgd-lr']);
const ADAM_LR = Number(args['adam-lr']);
const PARTS = new Set(args.only.split(','));
torch.setNumThreads(Number(args.threads));
const F = torch.nn.functional;
const spec = getModel('cnn');

// ---------------------------------------------------------------------------------------------------------------
// data: the same batches, in the same order, for every run
const fm = await loadFashionMnist({ quiet: true });
const train = fm.train;
const iter = new BatchIterator(train.count, BATCH, SEED);
const batchIdx: Int32Array[] = [];
while (batchIdx.length < STEPS + 1)
  for (const idx of iter.epoch()) if (batchIdx.length <= STEPS) batchIdx.push(Int32Array.from(idx));
function batch(k: number) {
  const x = new Float32Array(BATCH * 784);
  const y = new Uint8Array(BATCH);
  gatherBatch(train, batchIdx[k], x, y);
  return { x, y };
}

// ---------------------------------------------------------------------------------------------------------------
// weights: PyTorch layout is the reference; Keras's is converted to it (and back)
interface W {
  shape: number[];
  data: Float32Array;
}
const NAMES = ['conv1.w', 'conv1.b', 'conv2.w', 'conv2.b', 'fc1.w', 'fc1.b', 'fc2.w', 'fc2.b'];

/** OIHW -> HWIO. */
function oihwToHwio(w: W): W {
  const [O, I, H, Wd] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < H; h++)
        for (let x = 0; x < Wd; x++) out[((h * Wd + x) * I + i) * O + o] = w.data[((o * I + i) * H + h) * Wd + x];
  return { shape: [H, Wd, I, O], data: out };
}
function hwioToOihw(w: W): W {
  const [H, Wd, I, O] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < H; h++)
        for (let x = 0; x < Wd; x++) out[((o * I + i) * H + h) * Wd + x] = w.data[((h * Wd + x) * I + i) * O + o];
  return { shape: [O, I, H, Wd], data: out };
}
/**
 * Dense [out, in] (PyTorch) -> [in, out] (Keras). `chw` = the flattened input's [C, H, W]: PyTorch flattens NCHW as
 * (c, h, w), Keras NHWC as (h, w, c), so row (h, w, c) of Keras's kernel is column (c, h, w) of PyTorch's weight.
 */
function linearToDense(w: W, chw?: [number, number, number]): W {
  const [O, I] = w.shape;
  const out = new Float32Array(w.data.length);
  const [C, H, Wd] = chw ?? [I, 1, 1];
  for (let c = 0; c < C; c++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < Wd; x++) {
        const t = (c * H + h) * Wd + x;
        const k = (h * Wd + x) * C + c;
        for (let o = 0; o < O; o++) out[k * O + o] = w.data[o * I + t];
      }
  return { shape: [I, O], data: out };
}
function denseToLinear(w: W, chw?: [number, number, number]): W {
  const [I, O] = w.shape;
  const out = new Float32Array(w.data.length);
  const [C, H, Wd] = chw ?? [I, 1, 1];
  for (let c = 0; c < C; c++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < Wd; x++) {
        const t = (c * H + h) * Wd + x;
        const k = (h * Wd + x) * C + c;
        for (let o = 0; o < O; o++) out[o * I + t] = w.data[k * O + o];
      }
  return { shape: [O, I], data: out };
}
const FLAT: [number, number, number] = [64, 5, 5];
const toKeras = (ws: W[]): W[] =>
  ws.map((w, i) =>
    i === 0 || i === 2 ? oihwToHwio(w) : i === 4 ? linearToDense(w, FLAT) : i === 6 ? linearToDense(w) : w,
  );
const fromKeras = (ws: W[]): W[] =>
  ws.map((w, i) =>
    i === 0 || i === 2 ? hwioToOihw(w) : i === 4 ? denseToLinear(w, FLAT) : i === 6 ? denseToLinear(w) : w,
  );

// ---------------------------------------------------------------------------------------------------------------
// PyTorch: the registry's CNN with its Dropout at p = 0 (train mode kept: nothing else in it depends on the mode)
function torchModel(init: W[]): torch.nn.Module {
  const m = spec.pytorch(torch);
  for (const [, c] of m.namedChildren()) if (c instanceof torch.nn.Dropout) (c as unknown as { p: number }).p = 0;
  torch.noGrad(() => m.parameters().forEach((p, i) => p.copy_(torch.fromTypedArray(init[i].data, init[i].shape))));
  return m;
}
const torchWeights = (m: torch.nn.Module): W[] =>
  m.parameters().map((p) => ({ shape: p.shape, data: Float32Array.from(p.detach().toFloat32()) }));

type TorchOpt = { name: 'sgd'; lr: number } | { name: 'adam'; lr: number; eps: number };
class TorchRun {
  readonly m: torch.nn.Module;
  readonly opt: torch.optim.Optimizer;
  constructor(init: W[], o: TorchOpt) {
    this.m = torchModel(init);
    this.opt =
      o.name === 'sgd'
        ? new torch.optim.SGD(this.m.parameters(), { lr: o.lr })
        : new torch.optim.Adam(this.m.parameters(), { lr: o.lr, eps: o.eps });
  }
  /** One step; the loss before it. */
  step(x: Float32Array, y: Uint8Array): number {
    return torch.tidy(() => {
      this.opt.zeroGrad();
      const loss = F.crossEntropy(
        this.m.call(torch.fromTypedArray(x, [BATCH, 1, 28, 28])),
        torch.fromTypedArray(y, [BATCH], 'int64'),
      );
      loss.backward();
      this.opt.step();
      return loss.item();
    });
  }
  weights = () => torchWeights(this.m);
}

/** PyTorch's loss, logits and gradients (PyTorch layout) at `init` on one batch. */
function torchGrads(init: W[], x: Float32Array, y: Uint8Array) {
  const m = torchModel(init);
  return torch.tidy(() => {
    const logits = m.call(torch.fromTypedArray(x, [BATCH, 1, 28, 28]));
    const loss = F.crossEntropy(logits, torch.fromTypedArray(y, [BATCH], 'int64'));
    loss.backward();
    const out = {
      loss: loss.item(),
      logits: Float32Array.from(logits.detach().toFloat32()),
      probs: Float32Array.from(logits.detach().softmax(1).toFloat32()),
      grads: m.parameters().map((p) => ({ shape: p.shape, data: Float32Array.from(p.grad!.toFloat32()) })),
    };
    m.dispose();
    return out;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Keras: cnn.ts's layers without the Dropout (rate 0 is a no-op there), ending in a softmax or in logits
function kerasModel(init: W[], head: 'softmax' | 'linear'): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 128, activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 10, activation: head }));
  setKeras(m, init);
  return m;
}
function setKeras(m: tfl.LayersModel, init: W[]) {
  const ws = toKeras(init).map((w) => tf.tensor(w.data, w.shape));
  m.setWeights(ws);
  tf.dispose(ws);
}
const kerasWeights = (m: tfl.LayersModel): W[] =>
  fromKeras(m.getWeights().map((w) => ({ shape: w.shape, data: Float32Array.from(w.dataSync() as Float32Array) })));

type Loss = 'cce' | 'cce-noclip' | 'logits';
/** The mean loss of a batch: `cce` is exactly what compile({loss: 'categoricalCrossentropy'}) trains on. */
function kerasLoss(kind: Loss, yTrue: tf.Tensor, out: tf.Tensor): tf.Scalar {
  if (kind === 'cce') return tf.mean(tfl.metrics.categoricalCrossentropy(yTrue, out)) as tf.Scalar;
  if (kind === 'cce-noclip') {
    const p = tf.div(out, tf.sum(out, -1, true));
    return tf.neg(tf.mean(tf.sum(tf.mul(yTrue, tf.log(p)), -1)));
  }
  return tf.losses.softmaxCrossEntropy(yTrue, out) as tf.Scalar; // logSumExp, gradient softmax - y
}
const headOf = (l: Loss) => (l === 'logits' ? 'linear' : 'softmax');

/** torch.optim.Adam's arithmetic (PyTorch 1.13, single tensor) in tfjs ops: denom = sqrt(v) / sqrt(bc2) + eps. */
class TorchStyleAdam {
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();
  private t = 0;
  constructor(
    private lr: number,
    private eps: number,
    private b1 = 0.9,
    private b2 = 0.999,
  ) {}
  apply(vars: tf.Variable[], grads: tf.NamedTensorMap) {
    this.t++;
    const bc1 = 1 - this.b1 ** this.t;
    const bc2s = Math.sqrt(1 - this.b2 ** this.t);
    tf.tidy(() => {
      for (const p of vars) {
        const g = grads[p.name];
        if (!this.m.has(p.name)) {
          this.m.set(p.name, tf.variable(tf.zerosLike(p), false));
          this.v.set(p.name, tf.variable(tf.zerosLike(p), false));
        }
        const m = this.m.get(p.name)!;
        const v = this.v.get(p.name)!;
        m.assign(tf.add(tf.mul(m, this.b1), tf.mul(g, 1 - this.b1)));
        v.assign(tf.add(tf.mul(v, this.b2), tf.mul(tf.mul(g, g), 1 - this.b2)));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2s), this.eps);
        p.assign(tf.add(p, tf.mul(tf.div(m, denom), -this.lr / bc1)));
      }
    });
  }
  dispose() {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}

type KerasOpt =
  | { name: 'sgd'; lr: number }
  | { name: 'adam'; lr: number; eps: number } // tfjs's AdamOptimizer
  | { name: 'torch-adam'; lr: number; eps: number }; // TorchStyleAdam
class KerasRun {
  readonly m: tfl.LayersModel;
  private readonly vars: tf.Variable[];
  private readonly tfOpt: tf.Optimizer | null;
  private readonly torchAdam: TorchStyleAdam | null;
  /** `engine`: the engine's own path (compile + trainOnBatch); otherwise tf.variableGrads on kerasLoss. */
  constructor(
    init: W[],
    private readonly loss: Loss,
    o: KerasOpt,
    private readonly engine = false,
  ) {
    this.m = kerasModel(init, headOf(loss));
    this.vars = this.m.trainableWeights.map((w) => w.read() as tf.Variable);
    this.torchAdam = o.name === 'torch-adam' ? new TorchStyleAdam(o.lr, o.eps) : null;
    this.tfOpt =
      o.name === 'sgd'
        ? tf.train.sgd(o.lr)
        : o.name === 'adam'
          ? engine && o.eps === 1e-8
            ? makeKerasOptimizer({ name: 'adam', lr: o.lr, momentum: 0, nesterov: false, weightDecay: 0 })
            : tf.train.adam(o.lr, 0.9, 0.999, o.eps)
          : null;
    if (engine) {
      if (loss !== 'cce' || !this.tfOpt)
        throw new Error('the engine path is categoricalCrossentropy + a tfjs optimizer');
      this.m.compile({ optimizer: this.tfOpt, loss: 'categoricalCrossentropy' });
    }
  }
  async step(xa: Float32Array, ya: Uint8Array): Promise<number> {
    const [x, y] = tf.tidy(() => [
      tf.tensor4d(xa, [BATCH, 28, 28, 1]),
      tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(ya), 'int32'), 10), 'float32'),
    ]);
    try {
      if (this.engine) return (await this.m.trainOnBatch(x, y)) as number;
      const { value, grads } = tf.variableGrads(
        () => kerasLoss(this.loss, y, this.m.apply(x, { training: true }) as tf.Tensor),
        this.vars,
      );
      const loss = value.dataSync()[0];
      if (this.torchAdam) this.torchAdam.apply(this.vars, grads);
      else this.tfOpt!.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    } finally {
      tf.dispose([x, y]);
    }
  }
  weights = () => kerasWeights(this.m);
  dispose() {
    this.m.dispose();
    this.tfOpt?.dispose();
    this.torchAdam?.dispose();
  }
}

/** Keras's loss, output and gradients (converted to PyTorch layout) at `init` on one batch, on the current backend. */
function kerasGrads(init: W[], loss: Loss, xa: Float32Array, ya: Uint8Array) {
  const m = kerasModel(init, headOf(loss));
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  tf.engine().startScope();
  try {
    const x = tf.tensor4d(xa, [BATCH, 28, 28, 1]);
    const y = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(ya), 'int32'), 10), 'float32');
    const o = m.apply(x, { training: true }) as tf.Tensor;
    const { value, grads } = tf.variableGrads(
      () => kerasLoss(loss, y, m.apply(x, { training: true }) as tf.Tensor),
      vars,
    );
    return {
      loss: value.dataSync()[0],
      out: Float32Array.from(o.dataSync() as Float32Array),
      grads: fromKeras(
        vars.map((v) => ({ shape: v.shape, data: Float32Array.from(grads[v.name].dataSync() as Float32Array) })),
      ),
    };
  } finally {
    tf.engine().endScope();
    m.dispose();
  }
}

/** For both max-pools: windows whose first maximum (the gradient's route) is elsewhere in Keras than in PyTorch. */
function poolWindows(init: W[], xa: Float32Array) {
  // PyTorch: the Sequential's children up to each pool's input (the ReLUs at index 1 and 4), NCHW
  const m = torchModel(init);
  const mods = [...m.namedChildren()].map(([, c]) => c);
  const torchActs = torch.noGrad(() =>
    torch.tidy(() => {
      let h = torch.fromTypedArray(xa, [BATCH, 1, 28, 28]);
      const acts: Float32Array[] = [];
      mods.slice(0, 5).forEach((c, i) => {
        h = c.call(h);
        if (i === 1 || i === 4) acts.push(Float32Array.from(h.toFloat32()));
      });
      return acts;
    }),
  );
  m.dispose();
  // Keras: Conv2D (relu fused), MaxPooling2D, Conv2D, NHWC
  const k = kerasModel(init, 'softmax');
  const kerasActs = tf.tidy(() => {
    const a1 = k.layers[0].apply(tf.tensor4d(xa, [BATCH, 28, 28, 1])) as tf.Tensor;
    const a2 = k.layers[2].apply(k.layers[1].apply(a1) as tf.Tensor) as tf.Tensor;
    return [a1, a2].map((a) => Float32Array.from(a.dataSync() as Float32Array));
  });
  k.dispose();
  const shapes: [number, number][] = [
    [32, 26],
    [64, 11],
  ];
  return shapes.map(([C, H], p) => {
    const t = torchActs[p];
    const q = kerasActs[p];
    const at = (n: number, c: number, i: number, j: number) => t[((n * C + c) * H + i) * H + j];
    const ak = (n: number, c: number, i: number, j: number) => q[((n * H + i) * H + j) * C + c];
    const first = (get: typeof at, n: number, c: number, i: number, j: number) => {
      let best = 0;
      for (let r = 1; r < 4; r++)
        if (get(n, c, 2 * i + (r >> 1), 2 * j + (r & 1)) > get(n, c, 2 * i + (best >> 1), 2 * j + (best & 1))) best = r;
      return best;
    };
    let windows = 0;
    let differ = 0;
    let tied = 0;
    let gap = 0;
    const P = H >> 1;
    for (let n = 0; n < BATCH; n++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < P; i++)
          for (let j = 0; j < P; j++) {
            windows++;
            const bt = first(at, n, c, i, j);
            const bk = first(ak, n, c, i, j);
            const vt = at(n, c, 2 * i + (bt >> 1), 2 * j + (bt & 1));
            let ties = 0;
            for (let r = 0; r < 4; r++) if (at(n, c, 2 * i + (r >> 1), 2 * j + (r & 1)) === vt) ties++;
            if (ties > 1 && vt > 0) tied++;
            if (bt !== bk) {
              differ++;
              gap = Math.max(gap, Math.abs(vt - at(n, c, 2 * i + (bk >> 1), 2 * j + (bk & 1))));
            }
          }
    return { pool: `pool${p + 1}`, windows, differ, tied, gap };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// comparisons
function diff(a: Float32Array, b: Float32Array) {
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    maxAbs = Math.max(maxAbs, d);
    num += d * d;
    den += b[i] * b[i];
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  // rel: ||a - b|| / ||b||; maxRel: max|a - b| / max|b| (elementwise relative diffs blow up at tiny entries)
  return { maxAbs, rel: Math.sqrt(num / (den || 1)), maxRel: maxAbs / (maxRef || 1) };
}
const relPerLayer = (a: W[], b: W[]) => a.map((w, i) => diff(w.data, b[i].data).rel);
const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(1));
const pad = (s: string, n: number) => s.padStart(n);
const report: Record<string, unknown> = { steps: STEPS, batch: BATCH, seed: SEED, sgdLr: SGD_LR, adamLr: ADAM_LR };

await useTorchBackend();
torch.manualSeed(SEED);
const init = torchWeights(spec.pytorch(torch));
/** init with every weight moved by one ulp (random sign): the float32 chaos baseline's start. */
const coin = mulberry32(SEED + 1);
const perturbed = init.map((w) => ({
  shape: w.shape,
  data: Float32Array.from(w.data, (v) => v * (1 + (coin() < 0.5 ? -1 : 1) * 2 ** -23)),
}));
console.log(
  `cnn, batch ${BATCH}, ${STEPS} steps, seed ${SEED}, libtorch ${torch.libtorchVersion}, ${torch.getNumThreads()} thread(s), ` +
    `tfjs ${tf.version_core} on '${tf.getBackend()}'; fashion-mnist from ${fm.source.dir}`,
);

// ---------------------------------------------------------------------------------------------------------------
// 1. forward and one step's gradients
if (PARTS.has('check')) {
  const { x, y } = batch(0);
  // --jitter a: adds U(0, a) to every pixel, which leaves no exactly equal values in a max-pool window
  const jit = mulberry32(SEED + 2);
  const jitter = Number(args.jitter);
  if (jitter) for (let i = 0; i < x.length; i++) x[i] += jitter * jit();
  const t = torchGrads(init, x, y);
  const rows: Record<string, unknown>[] = [];
  const dump: Record<string, unknown> = { x: Array.from(x), y: Array.from(y), init, torch: t.grads };
  console.log(`\n1. forward and gradients at the initial weights, batch 0 (PyTorch loss ${t.loss.toFixed(7)})`);
  const backends = args['no-cpu'] ? ['torch'] : ['torch', 'cpu'];
  for (const backend of backends) {
    await tf.setBackend(backend);
    for (const loss of ['cce', 'logits'] as Loss[]) {
      const k = kerasGrads(init, loss, x, y);
      dump[`keras@${backend}/${loss}`] = k.grads;
      const fwd = diff(k.out, loss === 'logits' ? t.logits : t.probs);
      console.log(
        `  keras@${backend} ${loss.padEnd(6)}: loss ${k.loss.toFixed(7)} (${fmt(k.loss - t.loss)}); ` +
          `${loss === 'logits' ? 'logits' : 'probs'} max abs diff ${fmt(fwd.maxAbs)}`,
      );
      console.log(
        `    ${'weight'.padEnd(8)} ${pad('max|g|', 8)} ${pad('max abs', 8)} ${pad('max rel', 8)} ${pad('||d||/||g||', 11)}`,
      );
      k.grads.forEach((g, i) => {
        const d = diff(g.data, t.grads[i].data);
        const ref = t.grads[i].data.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
        console.log(
          `    ${NAMES[i].padEnd(8)} ${pad(fmt(ref), 8)} ${pad(fmt(d.maxAbs), 8)} ${pad(fmt(d.maxRel), 8)} ${pad(fmt(d.rel), 11)}`,
        );
        rows.push({ backend, loss, weight: NAMES[i], ...d });
      });
    }
  }
  await tf.setBackend('torch');
  // Where a gradient gap comes from: a 2x2 max-pool sends its gradient to the first maximum of each window (tfjs and
  // libtorch alike); a window whose two largest values differ by an ulp can pick another position in the other framework.
  const windows = poolWindows(init, x);
  for (const w of windows)
    console.log(
      `  ${w.pool}: ${w.differ} of ${w.windows} windows (${w.tied} with exactly tied maxima in both) send the gradient ` +
        `to another position in Keras than in PyTorch` +
        (w.differ ? `; their two values differ by at most ${fmt(w.gap)}` : ''),
    );
  report.check = { grads: rows, windows };
  // for a float64 reference in Python (PyTorch 1.13): W's data arrays as plain lists
  if (args.dump)
    writeFileSync(
      args.dump,
      JSON.stringify(dump, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)),
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 2. trajectories
const CHECKPOINTS = [1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300, 400, 500, 1000].filter((s) => s <= STEPS);
interface Traj {
  name: string;
  losses: number[];
  weights: Map<number, W[]>;
}
async function trajectory(
  name: string,
  run: { step(x: Float32Array, y: Uint8Array): number | Promise<number>; weights(): W[] },
) {
  const tr: Traj = { name, losses: [], weights: new Map() };
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++) {
    const { x, y } = batch(s);
    tr.losses.push(await run.step(x, y));
    if (CHECKPOINTS.includes(s + 1)) tr.weights.set(s + 1, run.weights());
  }
  console.log(
    `  ${name}: ${((performance.now() - t0) / STEPS).toFixed(0)} ms/step, final loss ${tr.losses[STEPS - 1].toFixed(4)}`,
  );
  return tr;
}
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

function compare(title: string, ref: Traj, others: Traj[]) {
  console.log(`\n${title}: ||W - W_ref|| / ||W_ref|| per layer (ref ${ref.name}), and loss differences`);
  const out: Record<string, unknown>[] = [];
  for (const o of others) {
    console.log(`  ${o.name} vs ${ref.name}`);
    console.log(`    ${pad('step', 5)} ${NAMES.map((n) => pad(n, 8)).join(' ')}   loss_ref  loss-loss_ref`);
    const rows: Record<string, unknown>[] = [];
    for (const s of CHECKPOINTS) {
      const rel = relPerLayer(o.weights.get(s)!, ref.weights.get(s)!);
      console.log(
        `    ${pad(String(s), 5)} ${rel.map((r) => pad(fmt(r), 8)).join(' ')}   ${ref.losses[s - 1].toFixed(4)}  ${fmt(o.losses[s - 1] - ref.losses[s - 1])}`,
      );
      rows.push({ step: s, rel, loss: o.losses[s - 1], lossRef: ref.losses[s - 1] });
    }
    const d = o.losses.map((l, i) => l - ref.losses[i]);
    const firstOver = (th: number) => d.findIndex((v) => Math.abs(v) > th) + 1 || null;
    const windows = [
      [0, 50],
      [50, 100],
      [100, 200],
      [200, STEPS],
    ].filter(([a]) => a < STEPS);
    const winMeans = windows.map(([a, b]) => mean(d.slice(a, b)));
    const winAbs = windows.map(([a, b]) => mean(d.slice(a, b).map(Math.abs)));
    console.log(
      `    first step with |loss diff| > 1e-5: ${firstOver(1e-5)}, > 1e-4: ${firstOver(1e-4)}, > 1e-3: ${firstOver(1e-3)}, > 1e-2: ${firstOver(1e-2)}`,
    );
    console.log(
      `    mean loss diff (signed / abs) over steps ${windows.map(([a, b]) => `${a + 1}-${b}`).join(', ')}: ` +
        winMeans.map((m, i) => `${fmt(m)} / ${fmt(winAbs[i])}`).join(', ') +
        `; mean loss over the last 100: ${mean(o.losses.slice(-100)).toFixed(4)} vs ${mean(ref.losses.slice(-100)).toFixed(4)}`,
    );
    out.push({
      name: o.name,
      ref: ref.name,
      rows,
      lossDiff: d,
      firstOver: [1e-5, 1e-4, 1e-3, 1e-2].map(firstOver),
      winMeans,
      winAbs,
    });
  }
  return out;
}

if (PARTS.has('sgd')) {
  console.log(`\n2a. plain SGD, lr ${SGD_LR}`);
  const ref = await trajectory('torch', new TorchRun(init, { name: 'sgd', lr: SGD_LR }));
  const chaos = await trajectory('torch(1-ulp init)', new TorchRun(perturbed, { name: 'sgd', lr: SGD_LR }));
  const engine = await trajectory(
    'keras cce trainOnBatch',
    new KerasRun(init, 'cce', { name: 'sgd', lr: SGD_LR }, true),
  );
  const logits = await trajectory('keras logits', new KerasRun(init, 'logits', { name: 'sgd', lr: SGD_LR }));
  const kChaos = await trajectory(
    'keras logits(1-ulp init)',
    new KerasRun(perturbed, 'logits', { name: 'sgd', lr: SGD_LR }),
  );
  report.sgd = [
    ...compare('2a. SGD', ref, [chaos, engine, logits]),
    ...compare('2a. SGD, Keras against itself', logits, [kChaos, engine]),
  ];
}

if (PARTS.has('adam')) {
  console.log(`\n2b. Adam, lr ${ADAM_LR}, betas (0.9, 0.999)`);
  const ref = await trajectory('torch eps1e-8', new TorchRun(init, { name: 'adam', lr: ADAM_LR, eps: 1e-8 }));
  const chaos = await trajectory(
    'torch eps1e-8(1-ulp init)',
    new TorchRun(perturbed, { name: 'adam', lr: ADAM_LR, eps: 1e-8 }),
  );
  const tEps7 = await trajectory('torch eps1e-7', new TorchRun(init, { name: 'adam', lr: ADAM_LR, eps: 1e-7 }));
  const engine = await trajectory(
    'keras cce tfjs-adam eps1e-8 trainOnBatch',
    new KerasRun(init, 'cce', { name: 'adam', lr: ADAM_LR, eps: 1e-8 }, true),
  );
  const eps7 = await trajectory(
    'keras cce tfjs-adam eps1e-7',
    new KerasRun(init, 'cce', { name: 'adam', lr: ADAM_LR, eps: 1e-7 }),
  );
  const logits = await trajectory(
    'keras logits tfjs-adam eps1e-8',
    new KerasRun(init, 'logits', { name: 'adam', lr: ADAM_LR, eps: 1e-8 }),
  );
  const tAdam = await trajectory(
    'keras logits torch-adam eps1e-8',
    new KerasRun(init, 'logits', { name: 'torch-adam', lr: ADAM_LR, eps: 1e-8 }),
  );
  report.adam = compare('2b. Adam', ref, [chaos, tEps7, engine, eps7, logits, tAdam]);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. gradients at matched weights along PyTorch's Adam trajectory
if (PARTS.has('matched')) {
  console.log(`\n3. gradients at matched weights: Keras given PyTorch's Adam weights after step k, on batch k`);
  const run = new TorchRun(init, { name: 'adam', lr: ADAM_LR, eps: 1e-8 });
  const at = [0, 50, 100, 150, 200, 250, 300].filter((s) => s <= STEPS);
  const rows: Record<string, unknown>[] = [];
  console.log(
    `  ${pad('k', 4)} ${'loss'.padEnd(6)} ${NAMES.map((n) => pad(n, 8)).join(' ')}  (||g_keras - g_torch|| / ||g_torch||)`,
  );
  for (let s = 0; s <= STEPS; s++) {
    if (at.includes(s)) {
      const { x, y } = batch(s);
      const w = run.weights();
      const t = torchGrads(w, x, y);
      for (const loss of ['cce', 'logits'] as Loss[]) {
        const k = kerasGrads(w, loss, x, y);
        const rel = k.grads.map((g, i) => diff(g.data, t.grads[i].data).rel);
        console.log(`  ${pad(String(s), 4)} ${loss.padEnd(6)} ${rel.map((r) => pad(fmt(r), 8)).join(' ')}`);
        rows.push({ step: s, loss, rel });
      }
    }
    if (s < STEPS) {
      const { x, y } = batch(s);
      run.step(x, y);
    }
  }
  report.matched = rows;
}

// ---------------------------------------------------------------------------------------------------------------
// 4. how often categoricalCrossentropy's clipping to [1e-7, 1 - 1e-7] fires: a sample whose p_true falls outside gets
// zero gradient in Keras (clipByValue's gradient), where log-softmax cross-entropy still pulls it (by up to |p - y|
// = sqrt(2) on the logits). Measured on PyTorch training the seed recipe (dropout 0.5 on, Adam 1e-3, cosine over 20
// epochs, 10% stratified validation) for --clip-epochs epochs (0: just --steps steps of part 2's Adam, dropout off).
// Also the validation loss both ways: Keras's evaluate() clips at 1e-7 too, and early stopping reads that loss.
if (PARTS.has('clip')) {
  const epochs = Number(args['clip-epochs']);
  const CLIP_LO = 1e-7;
  const CLIP_HI = Math.fround(1 - 1e-7);
  console.log(`\n4. p_true outside [1e-7, 1 - 1e-7], where categoricalCrossentropy's clipping zeroes the gradient`);
  const split = stratifiedSplit(train.labels, 0.1, SEED);
  const tr = epochs ? subset(train, split.train) : train;
  const val = subset(train, split.val);
  const m = torchModel(init); // dropout p = 0; the seed recipe's 0.5 for whole epochs
  if (epochs)
    for (const [, c] of m.namedChildren()) if (c instanceof torch.nn.Dropout) (c as unknown as { p: number }).p = 0.5;
  const opt = new torch.optim.Adam(m.parameters(), { lr: ADAM_LR, eps: 1e-8 });
  const it = new BatchIterator(tr.count, BATCH, SEED);
  const xb = new Float32Array(BATCH * 784);
  const yb = new Uint8Array(BATCH);
  /** One step; counts the batch's samples with p_true below / above the clip range (before the step). */
  const step = (n: number) =>
    torch.tidy(() => {
      m.train();
      opt.zeroGrad();
      const y = torch.fromTypedArray(yb.subarray(0, n), [n], 'int64');
      const logits = m.call(torch.fromTypedArray(xb.subarray(0, n * 784), [n, 1, 28, 28]));
      const loss = F.crossEntropy(logits, y);
      loss.backward();
      opt.step();
      const p = logits.detach().softmax(1).toFloat32();
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < n; i++) {
        const q = p[i * 10 + yb[i]];
        if (q < CLIP_LO) lo++;
        else if (q > CLIP_HI) hi++;
      }
      return { lo, hi };
    });
  const valLoss = () =>
    torch.noGrad(() =>
      torch.tidy(() => {
        m.eval();
        const p = new Float32Array(val.count * 10);
        for (let i = 0; i < val.count; i += 1000) {
          const n = Math.min(1000, val.count - i);
          const x = torch.fromTypedArray(val.images.subarray(i * 784, (i + n) * 784), [n, 1, 28, 28]);
          p.set(m.call(x).logSoftmax(1).toFloat32(), i * 10);
        }
        let exact = 0;
        let clipped = 0;
        let lo = 0;
        let correct = 0;
        for (let i = 0; i < val.count; i++) {
          const lp = p[i * 10 + val.labels[i]];
          exact -= lp;
          clipped -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, Math.exp(lp)))); // KerasModel.evaluate's formula
          if (Math.exp(lp) < CLIP_LO) lo++;
          let arg = 0;
          for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + arg]) arg = c;
          if (arg === val.labels[i]) correct++;
        }
        return { exact: exact / val.count, clipped: clipped / val.count, lo, acc: correct / val.count };
      }),
    );
  const rows: Record<string, unknown>[] = [];
  if (!epochs) {
    for (let s = 0; s < STEPS; s++) {
      const b = batch(s);
      xb.set(b.x);
      yb.set(b.y);
      step(BATCH);
    }
    const v = valLoss();
    console.log(`  after ${STEPS} Adam steps (dropout off): validation p_true < 1e-7: ${v.lo} of ${val.count}`);
    rows.push({ steps: STEPS, ...v });
  } else {
    console.log(
      `  ${pad('epoch', 5)} ${pad('train p<1e-7', 13)} ${pad('p>1-1e-7', 9)} ${pad('val p<1e-7', 11)} ${pad('val loss', 9)} ${pad('clipped', 8)} ${pad('val acc', 8)}`,
    );
    for (let e = 1; e <= epochs; e++) {
      opt.lr = cosineLr(ADAM_LR, e - 1, 20);
      let lo = 0;
      let hi = 0;
      let seen = 0;
      for (const idx of it.epoch()) {
        gatherBatch(tr, idx, xb, yb);
        const r = step(idx.length);
        lo += r.lo;
        hi += r.hi;
        seen += idx.length;
      }
      await torch.tick();
      const v = valLoss();
      console.log(
        `  ${pad(String(e), 5)} ${pad(`${lo} (${((100 * lo) / seen).toFixed(3)}%)`, 13)} ${pad(String(hi), 9)} ${pad(String(v.lo), 11)} ` +
          `${pad(v.exact.toFixed(4), 9)} ${pad(v.clipped.toFixed(4), 8)} ${pad(v.acc.toFixed(4), 8)}`,
      );
      rows.push({ epoch: e, trainLo: lo, trainHi: hi, seen, ...v });
    }
  }
  report.clip = rows;
}

if (args.json) writeFileSync(args.json, JSON.stringify(report));
