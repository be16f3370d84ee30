// Shared setup for the serving tests: a tiny real PyTorch run, a small Keras-format run made with
// stock tfjs in Node, image encoders, and the Fashion-MNIST test images.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { locateData, readIdxImages, readIdxLabels, CLASS_NAMES } from '../../src/data/index.js';
import { loadPredictor, type Predictor } from '../../src/runs/predictor.js';
import { readRun, writeRunInfo, writeTestResults, type RunInfo } from '../../src/train/run-files.js';
import { makeConfig } from '../../src/train/config.js';
import { runTraining } from '../../src/cli/commands/train.js';

export function tempDir(prefix = 'fmnist-serve-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real (tiny) PyTorch CNN run: 1 epoch on 2,000 images. A few seconds. */
export async function trainTinyPytorch(out: string): Promise<string> {
  await runTraining(
    makeConfig({ framework: 'pytorch', model: 'cnn', epochs: 1, limit: 2000, testLimit: 500, out }),
    () => {},
  );
  return out;
}

let testSet: { images: Uint8Array; labels: Uint8Array; count: number } | null = null;
/** The 10,000 Fashion-MNIST test images (raw 0-255) and labels. */
export function fashionTest() {
  if (!testSet) {
    const src = locateData();
    if (!src) throw new Error('Fashion-MNIST not found (the serving tests need the real data)');
    const img = readIdxImages(src.files.testImages);
    testSet = { images: img.images, labels: readIdxLabels(src.files.testLabels), count: img.count };
  }
  return testSet;
}
export const testImage = (i: number) => fashionTest().images.slice(i * 784, (i + 1) * 784);

// ---------- a Keras-format run made with stock tfjs ----------

type Tf = typeof import('@tensorflow/tfjs');
let tfPromise: Promise<Tf> | null = null;
async function tfjs(): Promise<Tf> {
  if (!tfPromise)
    tfPromise = (async () => {
      const tf = await import('@tensorflow/tfjs');
      // Stock tfjs in Node: the CPU backend, and no advice about installing tfjs-node.
      tf.env().set('IS_NODE', false);
      await tf.setBackend('cpu');
      return tf;
    })();
  return tfPromise;
}

/**
 * Writes a run folder like the Keras side will: run.json (framework 'keras'), metrics.json,
 * and a standard tfjs Layers model.json + weights.bin, from a small dense net trained briefly.
 */
export async function makeKerasRun(dir: string): Promise<string> {
  const tf = await tfjs();
  mkdirSync(dir, { recursive: true });
  const { images, labels } = fashionTest();
  // Train on test images 5000-7999 and evaluate on 0-999: it only has to be a plausible model.
  const trainN = 3000;
  const xs = tf.tensor(
    Float32Array.from(images.subarray(5000 * 784, (5000 + trainN) * 784), (v) => v / 255),
    [trainN, 28, 28, 1],
  );
  const ys = tf.oneHot(tf.tensor1d(Array.from(labels.subarray(5000, 5000 + trainN)), 'int32'), 10);
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 32, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy' });
  await model.fit(xs, ys, { epochs: 3, batchSize: 64, verbose: 0, shuffle: false });
  tf.dispose([xs, ys]);

  await model.save(
    tf.io.withSaveHandler(async (a) => {
      writeFileSync(
        join(dir, 'model.json'),
        JSON.stringify({
          modelTopology: a.modelTopology,
          format: a.format,
          generatedBy: a.generatedBy,
          convertedBy: a.convertedBy,
          weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
        }),
      );
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const info: RunInfo = {
    framework: 'keras',
    model: 'dense',
    params: model.countParams(),
    config: makeConfig({ framework: 'keras', model: 'dense', epochs: 3, out: dir }),
    engine: { tfjs: tf.version.tfjs, backend: 'cpu' },
    definition: 'Flatten, Dense(32, relu), Dense(10, softmax) (test stand-in)',
    modelFile: 'model.json',
    data: { dir: '', origin: 'test', verified: false, trainCount: trainN, valCount: 0, testCount: 1000 },
    createdAt: new Date().toISOString(),
    host: { cpus: 1, node: process.version },
  };
  writeRunInfo(dir, info);
  const evalN = 1000;
  const ex = tf.tensor(
    Float32Array.from(images.subarray(0, evalN * 784), (v) => v / 255),
    [evalN, 28, 28, 1],
  );
  const probs = (model.predict(ex) as import('@tensorflow/tfjs').Tensor).dataSync() as Float32Array;
  ex.dispose();
  const history = [{ epoch: 3, loss: 0, accuracy: 0, valLoss: null, valAccuracy: null, seconds: 1, rssMB: 0 }];
  writeTestResults(dir, info, history, 3, probs, labels.subarray(0, evalN), CLASS_NAMES);
  model.dispose();
  return dir;
}

/** A Predictor for a tfjs Layers run folder, with stock tfjs on the CPU (stands in until the Keras side lands). */
export async function tfjsPredictor(dir: string): Promise<Predictor> {
  const tf = await tfjs();
  const { info, metrics } = readRun(dir);
  const json = JSON.parse(readFileSync(join(dir, info.modelFile), 'utf8'));
  const bin = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
  return {
    dir,
    info,
    metrics,
    // Asynchronous on purpose: it exercises the batcher's "while a batch is running" path.
    predict: async (x, n) => {
      const input = tf.tensor(x, [n, 28, 28, 1]);
      const y = model.predict(input) as import('@tensorflow/tfjs').Tensor;
      const out = (await y.data()) as Float32Array;
      tf.dispose([input, y]);
      return out;
    },
    dispose: () => model.dispose(),
  };
}

/** loadPredictor, with the tfjs stand-in for Keras runs while loadPredictor cannot load them yet. */
export async function loadWithKerasStandIn(dir: string): Promise<Predictor> {
  try {
    return await loadPredictor(dir);
  } catch (e) {
    if (readRun(dir).info.framework === 'keras' && /not (supported|available) yet/.test((e as Error).message))
      return tfjsPredictor(dir);
    throw e;
  }
}

// ---------- images ----------

/** Gray pixels → PNG (RGBA). */
export function png(gray: Uint8Array, w: number, h: number): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    p.data[i * 4] = p.data[i * 4 + 1] = p.data[i * 4 + 2] = gray[i];
    p.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(p);
}

export function jpg(gray: Uint8Array, w: number, h: number, quality = 95): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    data[i * 4] = data[i * 4 + 1] = data[i * 4 + 2] = gray[i];
    data[i * 4 + 3] = 255;
  }
  return jpeg.encode({ data, width: w, height: h }, quality).data;
}

/** A 28×28 image scaled up k times (nearest), optionally inverted to dark-on-light like a photo on white. */
export function upscale(px: Uint8Array, k: number, invert = false): { gray: Uint8Array; w: number; h: number } {
  const w = 28 * k;
  const gray = new Uint8Array(w * w);
  for (let y = 0; y < w; y++)
    for (let x = 0; x < w; x++) {
      const v = px[Math.floor(y / k) * 28 + Math.floor(x / k)];
      gray[y * w + x] = invert ? 255 - v : v;
    }
  return { gray, w, h: w };
}

/** A multipart/form-data body with the given files. */
export function multipartBody(
  files: { field: string; name: string; type: string; data: Buffer }[],
  fields: { name: string; value: string }[] = [],
): { body: Buffer; contentType: string } {
  const boundary = '----fmnist' + Math.random().toString(16).slice(2);
  const chunks: Buffer[] = [];
  for (const f of fields)
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"\r\n\r\n${f.value}\r\n`));
  for (const f of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`,
      ),
      f.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A stand-in for the report's confusion-matrix picture: the matrix from metrics.json as a heat map. */
export function writeConfusionPng(dir: string): string {
  const { metrics } = readRun(dir);
  if (!metrics) throw new Error(`${dir}: no metrics.json`);
  const cm = metrics.confusionMatrix;
  const cell = 24;
  const size = cell * 10;
  const p = new PNG({ width: size, height: size });
  const max = Math.max(1, ...cm.flat());
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = Math.floor(y / cell);
      const j = Math.floor(x / cell);
      const a = cm[i][j] / max;
      const o = (y * size + x) * 4;
      const edge = y % cell === 0 || x % cell === 0;
      p.data[o] = edge ? 220 : Math.round(255 - 244 * a);
      p.data[o + 1] = edge ? 220 : Math.round(255 - 163 * a);
      p.data[o + 2] = edge ? 220 : Math.round(255 - 82 * a);
      p.data[o + 3] = 255;
    }
  mkdirSync(join(dir, 'report'), { recursive: true });
  const file = join(dir, 'report', 'confusion-matrix.png');
  writeFileSync(file, PNG.sync.write(p));
  return file;
}
