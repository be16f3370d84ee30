// A run folder served through onnxruntime-node instead of its framework: DIR/model.onnx (exported first when it is
// absent or stale) in an ort.InferenceSession, behind the same Predictor as loadPredictor's. Ensembles and TTA
// work as they do there: each member run is an ONNX session, and predictor.ts averages them.
import type { InferenceSession } from 'onnxruntime-node';
import { loadPredictor, type LoadPredictorOptions, type Predictor, type RunLoader } from './predictor.js';
import { ensureOnnx, INPUT_NAME, OUTPUT_NAME } from './onnx-export.js';

export interface OnnxPredictorOptions extends Omit<LoadPredictorOptions, 'loadRun'> {
  /** onnxruntime's intra-op threads per session (default 1: the server batches requests for throughput). */
  threads?: number;
}

/** One session on `file`, with fmnist's input and output (images [n, 1, 28, 28] → probs [n, 10]). */
export async function onnxSession(file: string, threads = 1) {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const missing = [
    !session.inputNames.includes(INPUT_NAME) && `input '${INPUT_NAME}'`,
    !session.outputNames.includes(OUTPUT_NAME) && `output '${OUTPUT_NAME}'`,
  ].filter(Boolean);
  if (missing.length) {
    await session.release();
    throw new Error(`${file}: not an fmnist ONNX model (no ${missing.join(' or ')})`);
  }
  return {
    session: session as InferenceSession,
    async predict(images: Float32Array, n: number): Promise<Float32Array> {
      if (images.length < n * 784) throw new Error(`predict: ${images.length} pixels for ${n} images of 784`);
      const x = new ort.Tensor('float32', images.subarray(0, n * 784), [n, 1, 28, 28]);
      const out = (await session.run({ [INPUT_NAME]: x }))[OUTPUT_NAME];
      if (out.type !== 'float32' || out.data.length !== n * 10)
        throw new Error(`${file}: output '${OUTPUT_NAME}' is ${out.type} [${out.dims}], expected float32 [${n}, 10]`);
      return Float32Array.from(out.data as Float32Array);
    },
  };
}

/** Like loadPredictor(dir), with every trained run computed by onnxruntime-node from its model.onnx. */
export function loadOnnxPredictor(dir: string, opts: OnnxPredictorOptions = {}): Promise<Predictor> {
  const loadRun: RunLoader = async (runDir, info, metrics) => {
    const s = await onnxSession(await ensureOnnx(runDir), opts.threads);
    return {
      dir: runDir,
      info,
      metrics,
      predict: (images, n) => s.predict(images, n),
      dispose: () => void s.session.release().catch(() => {}),
    };
  };
  return loadPredictor(dir, { tta: opts.tta, loadRun });
}
