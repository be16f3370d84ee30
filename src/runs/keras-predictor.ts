// Keras runs: the saved tfjs Layers model, on the torch backend.
import * as tfl from '@tensorflow/tfjs-layers';
import { useTorchBackend } from '../tfjs-backend/index.js';
import { fileHandler } from '../keras/io.js';
import { predictKeras } from '../train/keras.js';
import type { RunInfo, MetricsJson } from './files.js';
import type { Predictor } from './predictor.js';

export async function loadKerasPredictor(dir: string, info: RunInfo, metrics: MetricsJson | null): Promise<Predictor> {
  await useTorchBackend();
  const model = await tfl.loadLayersModel(fileHandler(dir));
  return {
    dir,
    info,
    metrics,
    predict: (images, n) => predictKeras(model, images, n),
    dispose: () => model.dispose(),
  };
}
