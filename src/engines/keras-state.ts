// Named tensors on disk for Keras checkpoints: <name>.json (tfjs weight specs, in order, plus any metadata) and
// <name>.bin (their bytes, tf.io.encodeWeights' layout). Order matters: tfjs optimizers match slots by position.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../util/fsutil.js';

type Named = { name: string; tensor: tf.Tensor };

export async function writeTensors(dir: string, name: string, tensors: Named[], meta: Record<string, unknown> = {}) {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = new Uint8Array(Array.isArray(data) ? await new Blob(data).arrayBuffer() : data);
  writeFileAtomic(join(dir, `${name}.bin`), bytes);
  writeJsonAtomic(join(dir, `${name}.json`), { specs, meta });
}

/** What writeTensors wrote; with `optional`, nothing (no tensors, no metadata) when the files are absent. */
export async function readTensors(
  dir: string,
  name: string,
  optional = false,
): Promise<{ tensors: Named[]; meta: Record<string, unknown> }> {
  const json = join(dir, `${name}.json`);
  if (optional && !existsSync(json)) return { tensors: [], meta: {} };
  const { specs, meta } = readJson<{ specs: tf.io.WeightsManifestEntry[]; meta: Record<string, unknown> }>(json);
  if (!Array.isArray(specs)) throw new Error(`${json}: damaged (no weight specs)`);
  const b = readFileSync(join(dir, `${name}.bin`));
  const bytesOf = (w: tf.io.WeightsManifestEntry) => w.shape.reduce((a, d) => a * d, 1) * (w.dtype === 'bool' ? 1 : 4);
  const need = specs.reduce((s, w) => s + bytesOf(w), 0);
  if (b.byteLength !== need)
    throw new Error(`${join(dir, `${name}.bin`)}: damaged (${b.byteLength} bytes, expected ${need})`);
  // decode one spec at a time so that equal names (none expected) cannot collapse in a map
  const tensors: Named[] = [];
  let off = 0;
  for (const s of specs) {
    const size = bytesOf(s);
    const part = b.buffer.slice(b.byteOffset + off, b.byteOffset + off + size) as ArrayBuffer;
    tensors.push({ name: s.name, tensor: tf.io.decodeWeights(part, [s])[s.name] });
    off += size;
  }
  return { tensors, meta: meta ?? {} };
}
