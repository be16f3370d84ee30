// Saving and loading tfjs Layers models on disk. Pure tfjs has no file:// handler in Node, so
// this is one: model.json plus one weights file, in the standard format that stock tfjs loads
// with tf.loadLayersModel (in Node from these files, in a browser from a URL).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { io } from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../util/fsutil.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

function joinWeights(data: io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), o);
    o += p.byteLength;
  }
  return out;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * A truncated or padded weights file, said as such: tfjs would decode it anyway (into a shape error naming no file,
 * or a tensor read past the end). Specs it cannot size (quantized, string) are left to tfjs.
 */
function checkWeightBytes(
  path: string,
  manifest: { paths: string[] }[],
  specs: io.WeightsManifestEntry[],
  actual: number,
): void {
  let expected = 0;
  for (const s of specs) {
    const size = DTYPE_BYTES[s.dtype];
    if (!size || s.quantization || !Array.isArray(s.shape)) return;
    expected += s.shape.reduce((a, b) => a * b, 1) * size;
  }
  if (actual === expected) return;
  const paths = manifest.flatMap((g) => g.paths);
  const what = paths.length === 1 ? join(dirname(path), paths[0]) : `the weights files of ${path}`;
  throw new Error(
    `${what}: ${actual.toLocaleString('en-US')} bytes, but the weightsManifest of ${path} describes ` +
      `${expected.toLocaleString('en-US')} (one of them is damaged, or they are not from the same model)`,
  );
}

/**
 * tfl.loadLayersModel on a run folder, with tfjs's own errors (a shape mismatch, an unknown layer) prefixed by the
 * model.json they come from.
 */
export async function loadLayersFromDir(tfl: typeof import('@tensorflow/tfjs-layers'), dir: string) {
  const path = join(dir, MODEL_JSON);
  try {
    return await tfl.loadLayersModel(fileHandler(dir));
  } catch (e) {
    const message = (e as Error).message;
    if (message.startsWith(dir)) throw e;
    throw new Error(`${path}: ${message}`, { cause: e });
  }
}

export function fileHandler(dir: string): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error('fileHandler: binary model topologies are not supported');
      const weights = joinWeights(artifacts.weightData);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      // Weights first: a model.json on disk always names a complete weights file.
      writeFileAtomic(join(dir, WEIGHTS_BIN), weights);
      writeFileAtomic(join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<io.ModelArtifacts> {
      const path = join(dir, MODEL_JSON);
      if (!existsSync(path)) throw new Error(`${path}: not found`);
      let json: {
        modelTopology: object;
        weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
        format?: string;
        generatedBy?: string;
        convertedBy?: string | null;
        trainingConfig?: io.TrainingConfig;
      };
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        throw new Error(`${path}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`, { cause: e });
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest))
        throw new Error(`${path}: not a tfjs Layers model (no modelTopology or weightsManifest)`);
      const specs: io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = join(dir, p);
          if (!existsSync(file)) throw new Error(`${file}: weights file named by ${MODEL_JSON} not found`);
          buffers.push(readFileSync(file));
        }
      }
      const weights = joinWeights(
        buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer),
      );
      checkWeightBytes(path, json.weightsManifest, specs, weights.byteLength);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: weights.buffer as ArrayBuffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        trainingConfig: json.trainingConfig,
      };
    },
  };
}
