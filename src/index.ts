// `fmnist`: the engine behind the CLI, as a library. `fmnist/torch` is the PyTorch-shaped API, and
// `fmnist/tfjs-backend` registers the libtorch-backed tfjs backend for any tfjs code.
export { loadFashionMnist, CLASS_NAMES, type FashionMnist, type Split } from './data/index.js';
export { MODELS, MODEL_IDS, getModel, findModel, pythonSource, type ModelSpec } from './models/index.js';
export { FRAMEWORKS, loadEngine, type Engine, type EngineModel, type Framework } from './engines/index.js';
export { makeConfig, defaultConfig, CONFIG_FIELDS, type TrainConfig } from './runs/config.js';
export { readRun, readTestProbs, type RunInfo, type MetricsJson, type EpochRecord } from './runs/files.js';
export { evaluateProbs, type Evaluation } from './runs/metrics.js';
export { loadPredictor, topK, type Predictor } from './runs/predictor.js';
export { TTA_VIEWS, averageProbs, predictTta, predictViews, type TtaView } from './runs/tta.js';
export { buildEnsemble, EnsembleError, type EnsembleOptions } from './runs/ensemble.js';
export { prepareData, type PreparedData } from './train/prepare.js';
export { train, type TrainHooks, type TrainResult } from './train/loop.js';
export { preprocessImage, toModelInput } from './imaging/preprocess.js';
