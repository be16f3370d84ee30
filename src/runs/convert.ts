// `fmnist convert`: a run folder of one framework rewritten as a complete run folder of the other: the weights in
// the target's format (model.pt + model.py, or model.json + weights.bin, mapped by src/engines/convert.ts),
// run.json (the source's model, params and training config, with provenance), metrics.json and test-probs.bin from
// the converted model on the test set, and the source's history.json (the curves are the source's training).
// Everything is checked before anything is written; the folder is built under a temporary name beside --out and
// renamed into place, so it appears whole or not at all.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import * as torch from '../torch/index.js';
import { CLASS_NAMES, loadFashionMnist, type Split } from '../data/index.js';
import { FRAMEWORKS, FRAMEWORK_NAMES, loadEngine, type Framework } from '../engines/index.js';
import { kerasToTorch, loadKerasModel, torchToKeras } from '../engines/convert.js';
import { fileHandler, MODEL_JSON } from '../engines/keras-io.js';
import { MODEL_PT } from '../engines/pytorch.js';
import { MODEL_IDS, findModel, type ModelSpec } from '../models/index.js';
import { writeFileAtomic, tempTag } from '../util/fsutil.js';
import {
  isEnsemble,
  readRun,
  testMetrics,
  writeChecksums,
  writeMetrics,
  writeModelPy,
  writeRunInfo,
  writeTestProbs,
  type MetricsJson,
  type RunInfo,
} from './files.js';
import { evaluateProbs } from './metrics.js';
import { loadPredictor } from './predictor.js';

/** Bad input to `fmnist convert`: one line that names the folder and the problem. */
export class ConvertError extends Error {}

export interface ConvertOptions {
  /** Where the test images come from; default: found as `fmnist data` finds them. */
  dataDir?: string;
  /** The test split itself, when the caller has it loaded already (then dataDir is not read). */
  test?: Split;
}

export interface ConvertResult {
  /** The converted run folder (absolute). */
  dir: string;
  info: RunInfo;
  metrics: MetricsJson;
  /** Test accuracy of the source and of the converted model, on the same images. */
  sourceAccuracy: number;
  accuracy: number;
  /** The largest |p_source − p_converted| over every test image and class. */
  maxDiff: number;
  /** Test images evaluated. */
  count: number;
}

/** A run folder's run.json with the checks every reader of its weights needs: a single run of a known model. */
function readSource(dir: string): {
  info: RunInfo;
  spec: ModelSpec;
  framework: Framework;
  run: ReturnType<typeof readRun>;
} {
  if (!existsSync(dir)) throw new ConvertError(`${dir}: run folder not found`);
  if (!statSync(dir).isDirectory()) throw new ConvertError(`${dir}: not a folder`);
  let run: ReturnType<typeof readRun>;
  try {
    run = readRun(dir);
  } catch (e) {
    throw new ConvertError((e as Error).message);
  }
  const { info } = run;
  if (isEnsemble(info))
    throw new ConvertError(`${dir}: is an ensemble, which has no weights of its own; use one of its members`);
  if (!(FRAMEWORKS as readonly string[]).includes(info.framework))
    throw new ConvertError(`${join(dir, 'run.json')}: unknown framework '${String(info.framework)}'`);
  const spec = findModel(info.model);
  if (!spec)
    throw new ConvertError(`${join(dir, 'run.json')}: unknown model '${info.model}' (known: ${MODEL_IDS.join(', ')})`);
  for (const f of weightFiles(dir, info))
    if (!existsSync(f)) throw new ConvertError(`${f}: weights file not found (did training finish?)`);
  return { info, spec, framework: info.framework as Framework, run };
}

/** The files that hold a run's weights: model.pt, or model.json and the weights files its manifest names. */
function weightFiles(dir: string, info: RunInfo): string[] {
  const file = join(dir, info.modelFile);
  if (info.framework !== 'keras' || !existsSync(file)) return [file];
  let manifest: { paths?: unknown }[];
  try {
    manifest =
      (JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest?: { paths?: unknown }[] }).weightsManifest ?? [];
  } catch {
    throw new ConvertError(`${file}: not valid JSON`);
  }
  const paths = manifest.flatMap((g) => (Array.isArray(g.paths) ? g.paths.map(String) : []));
  if (paths.length === 0) throw new ConvertError(`${file}: names no weights file (no weightsManifest paths)`);
  return [file, ...paths.map((p) => join(dir, p))];
}

/**
 * Any run folder (either framework) as an eval-mode PyTorch module with its weights loaded (strictly: every
 * state_dict key, every shape). A Keras run's weights go through kerasToTorch. The caller disposes the module.
 */
export async function loadAsTorch(dir: string): Promise<{ info: RunInfo; spec: ModelSpec; module: torch.nn.Module }> {
  const { info, spec, framework } = readSource(dir);
  let sd: Map<string, torch.Tensor>;
  if (framework === 'pytorch') {
    const file = join(dir, info.modelFile);
    try {
      sd = torch.loadStateDict(readFileSync(file));
    } catch (e) {
      throw new ConvertError(`${file}: not a state_dict fmnist can read (${(e as Error).message})`);
    }
  } else {
    const keras = await loadKerasModel(dir).catch((e: Error) => {
      // loadKerasModel's errors name their file already
      throw new ConvertError(e.message.startsWith(dir) ? e.message : `${join(dir, info.modelFile)}: ${e.message}`);
    });
    try {
      sd = kerasToTorch(spec, keras);
    } catch (e) {
      throw new ConvertError(`${dir}: ${(e as Error).message}`);
    } finally {
      keras.dispose();
    }
  }
  const module = spec.pytorch(torch);
  try {
    module.loadStateDict(sd);
  } catch (e) {
    module.dispose();
    throw new ConvertError(`${join(dir, info.modelFile)}: ${(e as Error).message}`);
  } finally {
    sd.forEach((t) => t.dispose());
  }
  return { info, spec, module: module.eval() };
}

/** SHA-256 of the weights: of model.pt, or of the weights files a model.json names (one in fmnist's format). */
function weightsSha256(dir: string, info: RunInfo): string {
  const files = weightFiles(dir, info);
  const h = createHash('sha256');
  for (const f of info.framework === 'keras' ? files.slice(1) : files) h.update(readFileSync(f));
  return h.digest('hex');
}

/** Refuses an --out that exists and is not an empty folder, or that is the source or inside it. */
function checkOut(out: string, source: string): void {
  if (out === source || out.startsWith(source + sep))
    throw new ConvertError(
      `--out ${out} is ${out === source ? '' : 'inside '}the source run folder; pick a new folder`,
    );
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new ConvertError(`--out ${out} exists and is not a folder`);
  if (readdirSync(out).length > 0)
    throw new ConvertError(`--out ${out} already exists and is not empty; pick a new folder`);
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Writes the run folder `out` of framework `to` from the run folder `dir` of the other framework. */
export async function convertRun(
  dir: string,
  to: string,
  out: string,
  opts: ConvertOptions = {},
): Promise<ConvertResult> {
  const source = resolve(dir);
  const target = resolve(out);
  if (!(FRAMEWORKS as readonly string[]).includes(to))
    throw new ConvertError(`--to ${to}: unknown framework (known: ${FRAMEWORKS.join(', ')})`);
  const { info: src, spec, framework: from, run } = readSource(source);
  if (from === to)
    throw new ConvertError(`${dir}: is already a ${FRAMEWORK_NAMES[from]} run; --to names the other framework`);
  checkOut(target, source);

  const test = opts.test ?? (await loadFashionMnist({ dataDir: opts.dataDir })).test;
  const count = src.data?.testCount ?? test.count;
  if (test.count < count) throw new ConvertError(`${test.count} test images, but ${dir} was evaluated on ${count}`);
  const images = test.images.subarray(0, count * 784);
  const labels = test.labels.subarray(0, count);

  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(target)}.tmp-${tempTag()}`);
  mkdirSync(tmp);
  try {
    // the weights, in the target's format
    const { module } = await loadAsTorch(source);
    try {
      if (to === 'pytorch') {
        writeFileAtomic(join(tmp, MODEL_PT), torch.saveStateDict(module.stateDict()));
        writeModelPy(tmp, spec);
      } else {
        const keras = await torchToKeras(spec, module.stateDict());
        try {
          await keras.save(fileHandler(tmp));
        } finally {
          keras.dispose();
        }
      }
    } finally {
      module.dispose();
    }

    // reloaded through the target's engine: what every reader of the folder will get
    const engine = await loadEngine(to);
    const modelFile = to === 'pytorch' ? MODEL_PT : MODEL_JSON;
    const model = await engine.load(tmp, modelFile, spec);
    let probs: Float32Array;
    let info: RunInfo;
    try {
      if (model.params !== src.params)
        throw new ConvertError(`${dir}: ${src.params} parameters, but the converted model has ${model.params}`);
      info = {
        ...src,
        framework: to as Framework,
        engine: model.engine,
        definition: model.definition,
        modelFile: model.modelFile,
        provenance: {
          kind: 'convert',
          source,
          sha256: weightsSha256(source, src),
          framework: from,
          createdAt: new Date().toISOString(),
        },
      };
      probs = await model.predictProbs(images, count);
    } finally {
      model.dispose();
    }

    const before = await loadPredictor(source, { tta: false });
    let sourceProbs: Float32Array;
    try {
      sourceProbs = await before.predict(images, count);
    } finally {
      before.dispose();
    }

    writeRunInfo(tmp, info);
    if (existsSync(join(source, 'history.json'))) copyFileSync(join(source, 'history.json'), join(tmp, 'history.json'));
    const bestEpoch = run.metrics?.bestEpoch ?? run.history.at(-1)?.epoch ?? 0;
    // The training fields are the source's (this process's memory says nothing about its training).
    const metrics: MetricsJson = {
      ...testMetrics(info, run.history, bestEpoch, probs, labels, CLASS_NAMES),
      ...(run.metrics ? { peakRssMB: run.metrics.peakRssMB } : {}),
    };
    writeTestProbs(tmp, probs);
    writeMetrics(tmp, metrics);
    writeChecksums(tmp);

    if (existsSync(target)) rmdirSync(target); // an empty folder (checkOut): rmdir fails if that changed
    renameSync(tmp, target);
    return {
      dir: target,
      info,
      metrics,
      sourceAccuracy: evaluateProbs(sourceProbs, labels, CLASS_NAMES).accuracy,
      accuracy: metrics.testAccuracy,
      maxDiff: maxAbsDiff(sourceProbs, probs),
      count,
    };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
