// Runs the same tfjs computation on the 'cpu' backend (the reference) and on 'torch', and compares the results.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs's gradients (tfjs-core's node build doesn't), for tf.grad
import { kernelStats, registerTorchBackend, resetKernelStats } from '../../src/tfjs-backend/index.js';

export { tf };

registerTorchBackend();

/** Deterministic pseudo-random values (mulberry32), so a failure reproduces. */
export function rand(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export function randTensor(shape: number[], seed = 1, lo = -1, hi = 1): tf.Tensor {
  return tf.tensor(
    rand(
      shape.reduce((a, b) => a * b, 1),
      seed,
      lo,
      hi,
    ),
    shape,
  );
}

export function randInt(shape: number[], seed: number, lo: number, hi: number): tf.Tensor {
  const v = rand(
    shape.reduce((a, b) => a * b, 1),
    seed,
    lo,
    hi,
  );
  return tf.tensor(Int32Array.from(v, Math.floor), shape, 'int32');
}

type Out = tf.Tensor | tf.Tensor[];
interface Result {
  shape: number[];
  dtype: string;
  values: Float32Array | Int32Array | Uint8Array;
}

async function runOn(backend: string, fn: () => Out): Promise<Result[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const results = list.map((t) => ({ shape: t.shape, dtype: t.dtype, values: t.dataSync() as Result['values'] }));
  tf.dispose(list);
  return results;
}

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

export function assertClose(actual: Result, expected: Result, { rtol = 1e-5, atol = 1e-6 }: Tolerance, what = '') {
  assert.deepEqual(actual.shape, expected.shape, `${what} shape`);
  assert.equal(actual.dtype, expected.dtype, `${what} dtype`);
  assert.equal(actual.values.length, expected.values.length, `${what} size`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.values.length; i++) {
    const a = actual.values[i];
    const e = expected.values[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (!(Number.isNaN(e) && Number.isNaN(a))) worst = i;
      continue;
    }
    if (a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what} element ${worst}: torch ${actual.values[worst]} vs cpu ${expected.values[worst]} ` +
        `(rtol ${rtol}, atol ${atol})`,
    );
  }
}

export interface CompareOptions extends Tolerance {
  /** Kernels that must have run natively on 'torch' (so the test doesn't compare cpu with cpu). */
  native?: string[];
  /** Kernels that must have fallen back to the cpu kernel on 'torch'. */
  fallback?: string[];
}

/** fn on 'cpu' and on 'torch': same shapes, dtypes, and values within tolerance. */
export async function compareBackends(fn: () => Out, opts: CompareOptions = {}): Promise<void> {
  const expected = await runOn('cpu', fn);
  resetKernelStats();
  const actual = await runOn('torch', fn);
  const stats = kernelStats();
  for (const k of opts.native ?? []) {
    assert.ok((stats.native[k] ?? 0) > 0, `${k} did not run natively: ${JSON.stringify(stats)}`);
  }
  for (const k of opts.fallback ?? []) {
    assert.ok((stats.cpu[k] ?? 0) > 0, `${k} did not fall back to cpu: ${JSON.stringify(stats)}`);
    assert.ok(!stats.native[k], `${k} ran natively: ${JSON.stringify(stats)}`);
  }
  assert.equal(actual.length, expected.length, 'number of outputs');
  actual.forEach((a, i) => assertClose(a, expected[i], opts, `output ${i}`));
}
