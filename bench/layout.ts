// Times fmnist PyTorch training steps of one model in one memory layout (FMNIST_MEMORY_FORMAT, else the model's
// own) and one precision (--precision, float32 by default), on a fixed batch, through the engine the training loop
// uses. Prints JSON: milliseconds per step. run.ts runs it for both layouts and both precisions, alternating, so each
// ratio compares neighbours in time; the registry's `memoryFormat` and `autocast` for each model follow those ratios.
import { parseArgs } from 'node:util';
import { pytorchEngine, memoryFormat } from '../src/engines/pytorch.js';
import { PRECISIONS, type Precision } from '../src/engines/index.js';
import { getModel } from '../src/models/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet' },
    'batch-size': { type: 'string', default: '128' },
    steps: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    precision: { type: 'string', default: 'float32' },
  },
});
const spec = getModel(values.model!);
const batch = Number(values['batch-size']);
const steps = Number(values.steps);
const precision = values.precision as Precision;
if (!PRECISIONS.includes(precision)) throw new Error(`--precision must be one of ${PRECISIONS.join(', ')}`);
const model = await pytorchEngine.build(spec, {
  optimizer: { name: 'adam', lr: 1e-3, momentum: 0.9, nesterov: false, weightDecay: 0 },
  labelSmoothing: 0,
  ema: 0,
  threads: Number(values.threads),
  precision,
});
const x = new Float32Array(batch * 784).map((_, i) => ((i * 7919) % 256) / 255);
const y = new Uint8Array(batch).map((_, i) => i % 10);
for (let i = 0; i < 3; i++) await model.trainStep(x, y, batch); // warm-up: oneDNN picks and caches its kernels
const t0 = performance.now();
for (let i = 0; i < steps; i++) await model.trainStep(x, y, batch);
const ms = (performance.now() - t0) / steps;
console.log(JSON.stringify({ model: spec.id, layout: memoryFormat(spec), precision, batch, msPerStep: ms }));
