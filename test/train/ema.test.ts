// The weight average (--ema) in both engines: after a few real steps, swapEma() puts in exactly the warmed-up
// moving average of the weights each step left behind (BatchNorm statistics included), and swapping again puts
// the live weights back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEngine, emaDecayAt, type EngineModel } from '../../src/engines/index.js';
import { getModel } from '../../src/models/index.js';
import { defaultConfig, engineOptions } from '../../src/runs/config.js';
import { RandomStream } from '../../src/torch/augment.js';
import type * as torch from '../../src/torch/index.js';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Every float weight of the engine's model, as arrays (a test may look inside the engine). */
function values(m: EngineModel, framework: string): Float32Array[] {
  const inner = (m as unknown as { model: unknown }).model;
  if (framework === 'pytorch')
    return [...(inner as torch.nn.Module).stateDict().values()]
      .filter((t) => t.dtype === 'float32')
      .map((t) => t.toFloat32());
  return (inner as tfl.LayersModel).getWeights().map((w) => (w.dataSync() as Float32Array).slice());
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i][k])))));
  return m;
}

for (const framework of ['pytorch', 'keras'] as const) {
  test(`${framework}: swapEma gives the moving average of the weights, and swaps back`, async () => {
    const engine = await loadEngine(framework);
    const decay = 0.6;
    const opts = { ...engineOptions(defaultConfig(framework, 'cnn-bn', 'seed')), ema: decay, threads: 1 };
    const model = await engine.seeded(3, () => engine.build(getModel('cnn-bn'), opts));
    try {
      const rng = new RandomStream(1);
      const x = Float32Array.from({ length: 16 * 784 }, () => rng.next());
      const y = Uint8Array.from({ length: 16 }, () => rng.int(0, 9));
      let avg = values(model, framework);
      for (let t = 0; t < 4; t++) {
        await model.trainStep(x, y, 16);
        const d = emaDecayAt(decay, t);
        const w = values(model, framework);
        avg = avg.map((a, i) => a.map((v, k) => d * v + (1 - d) * w[i][k]));
      }
      const live = values(model, framework);
      assert.ok(maxDiff(avg, live) > 1e-4, 'the average differs from the live weights');
      assert.equal(model.swapEma(), true);
      assert.ok(maxDiff(values(model, framework), avg) < 1e-5, 'swapped in: the average');
      model.swapEma();
      assert.equal(maxDiff(values(model, framework), live), 0, 'swapped back: the live weights');
    } finally {
      model.dispose();
    }
    const plain = await engine.seeded(3, () => engine.build(getModel('dense'), { ...opts, ema: 0 }));
    assert.equal(plain.swapEma(), false);
    plain.dispose();
  });
}
