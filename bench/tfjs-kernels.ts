// One Keras training step (Adam, categorical cross-entropy, accuracy) of any registry model on tfjs's backend 'torch'
// against the pure-JS 'cpu' backend, and where the torch backend's time goes (tf.profile, top kernels).
//
//   node --import tsx bench/tfjs-kernels.ts [--model <registry id>] [--batch 64] [--steps 30] [--threads 2]
//                                           [--cpu-batch 4] [--cpu-steps 2] [--top 10] [--profile-steps 5]
//                                           [--profile-only] [--stock-bn]
//
// --model takes any id of src/models/ (its keras(tfl) builder: a Sequential or a functional LayersModel).
// --profile-only: only the torch profile of --profile-steps training steps (after one warm-up step), no timing and no
// cpu run. --stock-bn: build the model with tfjs-layers' own BatchNormalization, not the torch backend's fused one
// (src/tfjs-backend/batch_norm_layer.ts), to compare the two. The cpu backend is timed on a small batch (--cpu-batch) and scaled to --batch: its kernels are plain loops
// whose cost grows linearly with the batch, and a batch-64 CNN step takes ~10 s there.
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import * as tflayers from '@tensorflow/tfjs-layers';
import { getModel } from '../src/models/index.js';
import { native } from '../src/native/binding.js';
import { kernelStats, resetKernelStats, torchLayersApi, useTorchBackend } from '../src/tfjs-backend/index.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'cnn' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '30' },
    threads: { type: 'string', default: '2' },
    'cpu-batch': { type: 'string', default: '4' },
    'cpu-steps': { type: 'string', default: '2' },
    top: { type: 'string', default: '10' },
    'profile-steps': { type: 'string', default: '5' },
    'profile-only': { type: 'boolean', default: false },
    'stock-bn': { type: 'boolean', default: false },
  },
});
const batch = Number(args.batch);
const steps = Number(args.steps);
const cpuBatch = Number(args['cpu-batch']);
const top = Number(args.top);
native.setNumThreads(Number(args.threads));

const spec = getModel(args.model); // throws, listing the registry's ids, for an unknown one

function build(): tfl.LayersModel {
  // as the Keras engine builds it (the fused BatchNormalization), or with tfjs-layers' stock one (--stock-bn)
  const model = spec.keras(args['stock-bn'] ? tflayers : torchLayersApi);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function batchOf(n: number) {
  return tf.tidy(() => ({
    xs: tf.randomUniform([n, 28, 28, 1]),
    ys: tf.oneHot(tf.randomUniform([n], 0, 10, 'int32'), 10),
  }));
}

async function timeSteps(model: tfl.LayersModel, n: number, count: number, warmup: number): Promise<number[]> {
  const { xs, ys } = batchOf(n);
  for (let i = 0; i < warmup; i++) await model.trainOnBatch(xs, ys);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await model.trainOnBatch(xs, ys);
    times.push(performance.now() - t0);
  }
  tf.dispose([xs, ys]);
  return times;
}

async function profileStep(model: tfl.LayersModel, n: number, profiled: number) {
  const { xs, ys } = batchOf(n);
  await model.trainOnBatch(xs, ys);
  resetKernelStats();
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    for (let i = 0; i < profiled; i++) await model.trainOnBatch(xs, ys);
  });
  const wall = (performance.now() - t0) / profiled;
  const stats = kernelStats();
  tf.dispose([xs, ys]);
  const byName = new Map<string, { ms: number; calls: number }>();
  // tf.profile also records ops with a custom gradient (tf.fused.conv2d: 'fusedConv2d__op') around the kernels they
  // run: counted, they would count those kernels' time twice
  const kernelsRun = info.kernels.filter((k) => !k.name.endsWith('__op'));
  for (const k of kernelsRun) {
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += (k.kernelTimeMs as number) / profiled;
    e.calls += 1 / profiled;
    byName.set(k.name, e);
  }
  const rows = [...byName].sort((a, b) => b[1].ms - a[1].ms);
  return {
    rows,
    wall,
    stats,
    kernelMs: rows.reduce((s, [, e]) => s + e.ms, 0),
    calls: kernelsRun.length / profiled,
    profiled,
  };
}

function printProfile(title: string, p: Awaited<ReturnType<typeof profileStep>>, withStats: boolean) {
  const { stats } = p;
  console.log(
    `\n${title}, per step (mean of ${p.profiled}): ${p.calls} kernel calls, ${p.kernelMs.toFixed(1)} ms in kernels, ` +
      `${p.wall.toFixed(1)} ms wall`,
  );
  console.log(
    `  ${'kernel'.padEnd(22)} ${'ms'.padStart(8)} ${'share'.padStart(6)} ${'calls'.padStart(6)}` +
      (withStats ? '  native/cpu' : ''),
  );
  for (const [name, e] of p.rows.slice(0, top)) {
    const perStep = (n: number | undefined) => (n ?? 0) / p.profiled;
    const where = withStats ? `  ${perStep(stats.native[name])}/${perStep(stats.cpu[name])}` : '';
    const share = ((100 * e.ms) / p.kernelMs).toFixed(1) + '%';
    console.log(
      `  ${name.padEnd(22)} ${e.ms.toFixed(2).padStart(8)} ${share.padStart(6)} ` +
        `${String(Math.round(e.calls)).padStart(6)}${where}`,
    );
  }
}

const stat = (t: number[]) => {
  const s = [...t].sort((a, b) => a - b);
  return { min: s[0], median: s[s.length >> 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
};

console.log(
  `model ${args.model}, batch ${batch}, libtorch ${native.libtorchVersion}, ${native.getNumThreads()} thread(s), ` +
    `node ${process.version}, load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`,
);

// torch
await useTorchBackend();
const torchModel = build();
if (args['profile-only']) {
  const p = await profileStep(torchModel, batch, Number(args['profile-steps']));
  printProfile(`torch profile of ${spec.id} at batch ${batch}`, p, true);
  process.exit(0);
}
const torchTimes = stat(await timeSteps(torchModel, batch, steps, 5));
const perEpoch = Math.ceil(60000 / batch);
console.log(
  `torch: ${torchTimes.median.toFixed(1)} ms/step median (min ${torchTimes.min.toFixed(1)}, mean ` +
    `${torchTimes.mean.toFixed(1)}) over ${steps} steps = ` +
    `${((1000 * batch) / torchTimes.median).toFixed(0)} images/s, ` +
    `~${((perEpoch * torchTimes.median) / 1000).toFixed(1)} s per 60k-image epoch`,
);
const torchProfile = await profileStep(torchModel, batch, Number(args['profile-steps']));
torchModel.dispose();

// cpu, on a small batch, scaled
await tf.setBackend('cpu');
const cpuModel = build();
const cpuTimes = stat(await timeSteps(cpuModel, cpuBatch, Number(args['cpu-steps']), 1));
const cpuScaled = (cpuTimes.median * batch) / cpuBatch;
console.log(
  `cpu:   ${cpuTimes.median.toFixed(1)} ms/step at batch ${cpuBatch} -> ~${cpuScaled.toFixed(0)} ms/step at batch ` +
    `${batch} (scaled linearly)`,
);
console.log(`torch is ~${(cpuScaled / torchTimes.median).toFixed(0)}x faster than cpu per training step`);
const cpuProfile = await profileStep(cpuModel, cpuBatch, 1);
cpuModel.dispose();

printProfile(`torch profile at batch ${batch}`, torchProfile, true);
printProfile(`cpu profile at batch ${cpuBatch}`, cpuProfile, false);
const pool = (await import('@tensorflow/tfjs-core')).engine().findBackend('torch') as unknown as {
  pool: { stats: object; freeMegabytes: number };
};
console.log(
  `\ntorch backend output memory: ${JSON.stringify(pool.pool.stats)}, ${pool.pool.freeMegabytes.toFixed(0)} MB free`,
);
