// Shared pieces of the torch tests: reference fixtures, tolerant comparison, and the Python probe.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One tensor as gen_reference.py writes it. */
export interface TensorRec {
  shape: number[];
  dtype: 'float32' | 'int64';
  data: number[];
}

export function fromRec(rec: TensorRec): torch.Tensor {
  const data = rec.dtype === 'int64' ? BigInt64Array.from(rec.data, (v) => BigInt(v)) : Float32Array.from(rec.data);
  return torch.fromTypedArray(data, rec.shape);
}

export function readReference<T>(name = 'reference.json'): T {
  return JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as T;
}

/** numpy.allclose semantics: |a - b| <= atol + rtol * |b|, with a message naming the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tol: { rtol?: number; atol?: number } = {},
): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const b = Number(expected[i]);
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0)
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`,
    );
}

/** Values of any tensor as plain numbers (int64 through Number). */
export function values(t: torch.Tensor): number[] {
  const d = t.dataSync();
  return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d);
}

export const PYTHON = '/usr/bin/python3';

let pythonProbe: string | false | undefined;
/** false when /usr/bin/python3 can import torch, otherwise the reason to skip (for { skip }). */
export function pythonTorchMissing(): string | false {
  if (pythonProbe === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
    pythonProbe =
      r.status === 0
        ? false
        : `${PYTHON} cannot import torch (apt-get install python3-torch): ${(r.error?.message ?? r.stderr).trim().split('\n').pop()}`;
  }
  return pythonProbe;
}

/** Runs a Python script with /usr/bin/python3; throws with its stderr when it fails. */
export function runPython(script: string, args: string[] = [], timeout = 120_000): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0)
    throw new Error(`python failed (${r.status ?? r.signal}): ${r.error?.message ?? ''}\n${r.stderr}`);
  return r.stdout;
}
