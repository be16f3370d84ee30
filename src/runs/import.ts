// `fmnist import`: a state_dict saved by Python (torch.save(model.state_dict(), "m.pt")) becomes a complete
// PyTorch run folder: model.pt (re-saved by us), model.py, run.json (with provenance), metrics.json and
// test-probs.bin on the test set. The file is read by the TypeScript .pt reader (src/torch/serialization), which
// allows only tensors, storages, OrderedDict and primitives. Everything is checked before anything is written,
// and the folder is built under a temporary name beside --out and renamed into place: whole, or not at all.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { CLASS_NAMES, loadFashionMnist } from '../data/index.js';
import { loadEngine } from '../engines/index.js';
import { getModel, type ModelSpec } from '../models/index.js';
import { makeConfig, recipeOverrides } from './config.js';
import { RECIPES } from './recipes.js';
import { writeFileAtomic, tempTag } from '../util/fsutil.js';
import {
  writeChecksums,
  writeModelPy,
  writeRunInfo,
  writeTestResults,
  type MetricsJson,
  type RunInfo,
} from './files.js';

/** Bad input to `fmnist import`: one line that names the file or folder and what is wrong. */
export class ImportError extends Error {}

export interface ImportOptions {
  /** The .pt file: a state_dict from torch.save, zip or legacy format. */
  file: string;
  /** The registry architecture the weights are for. */
  model: string;
  /** The run folder to write: must not exist, or be empty. */
  out: string;
  /** Where the test set is; default: found as `fmnist data` finds it. */
  dataDir?: string;
  /** Evaluate on the first n test images only (0 or absent: all). */
  testLimit?: number;
}

export interface ImportResult {
  dir: string;
  info: RunInfo;
  metrics: MetricsJson;
  /** What the file was: torch.save's zip or legacy format, holding an OrderedDict or a dict. */
  format: 'zip' | 'legacy';
  container: 'OrderedDict' | 'dict';
}

const MODEL_PT = 'model.pt';

function checkFile(file: string): void {
  if (!existsSync(file)) throw new ImportError(`${file}: file not found`);
  if (!statSync(file).isFile()) throw new ImportError(`${file}: not a file`);
}

function checkOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new ImportError(`--out ${out} exists and is not a folder`);
  if (readdirSync(out).length) throw new ImportError(`--out ${out} already exists and is not empty; pick a new folder`);
}

interface Shaped {
  shape: number[];
}

/**
 * Everything that keeps `file` from loading strictly into the model, in one line: missing keys, unexpected keys
 * and shapes that differ. Empty when it fits.
 */
export function stateDictMismatch(model: Map<string, Shaped>, file: Map<string, Shaped>): string {
  const missing = [...model.keys()].filter((k) => !file.has(k));
  const unexpected = [...file.keys()].filter((k) => !model.has(k));
  const shape = (t: Shaped) => (t.shape.length ? t.shape.join('x') : 'scalar');
  const wrong = [...model]
    .filter(([k, t]) => file.has(k) && shape(file.get(k)!) !== shape(t))
    .map(([k, t]) => `${k} (${shape(file.get(k)!)} in the file, ${shape(t)} in the model)`);
  const parts: string[] = [];
  if (missing.length) parts.push(`missing keys [${missing.join(', ')}]`);
  if (unexpected.length) parts.push(`unexpected keys [${unexpected.join(', ')}]`);
  if (wrong.length) parts.push(`wrong shapes [${wrong.join(', ')}]`);
  return parts.join('; ');
}

/** Reads the file, checks it against the architecture and returns our model.pt's bytes for it. */
async function resave(file: string, bytes: Uint8Array, spec: ModelSpec) {
  const torch = await import('../torch/index.js');
  let parsed: ReturnType<typeof torch.readStateDict>;
  try {
    parsed = torch.readStateDict(bytes, file);
  } catch (e) {
    throw new ImportError((e as Error).message, { cause: e });
  }
  const { format, container, tensors } = parsed;
  return torch.withDisposeScope(() => {
    const model = spec.pytorch(torch);
    try {
      const why = stateDictMismatch(model.stateDict(), tensors);
      if (why) throw new ImportError(`${file}: does not fit the '${spec.id}' architecture: ${why}`);
      // tensors made here belong to the scope and are freed with it
      const sd = new Map([...tensors].map(([k, t]) => [k, torch.fromTypedArray(t.data, t.shape, t.dtype)]));
      model.loadStateDict(sd);
      return { pt: torch.saveStateDict(model.stateDict()), format, container };
    } finally {
      model.dispose();
    }
  });
}

/**
 * Builds the folder under a temporary name beside `out` with `write`, then renames it into place. On any error
 * nothing is left: not the temporary folder, nor parent folders this call made.
 */
async function buildWhole(out: string, write: (dir: string) => Promise<void>): Promise<void> {
  const parent = dirname(out);
  const made = mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(out)}.tmp-${tempTag()}`);
  try {
    mkdirSync(tmp);
    await write(tmp);
    checkOut(out); // again: something may have appeared there while we worked
    renameSync(tmp, out); // replaces an empty folder
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (made) rmSync(made, { recursive: true, force: true });
    throw e;
  }
}

export async function importStateDict(o: ImportOptions): Promise<ImportResult> {
  const file = resolve(o.file);
  const out = resolve(o.out);
  let spec: ModelSpec;
  try {
    spec = getModel(o.model);
  } catch (e) {
    throw new ImportError((e as Error).message, { cause: e });
  }
  checkFile(o.file);
  checkOut(out);
  const bytes = readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { pt, format, container } = await resave(o.file, bytes, spec);

  const fm = await loadFashionMnist({ dataDir: o.dataDir });
  const n = o.testLimit ? Math.min(o.testLimit, fm.test.count) : fm.test.count;
  const cfg = makeConfig({
    framework: 'pytorch',
    model: spec.id,
    out,
    dataDir: o.dataDir ?? '',
    testLimit: o.testLimit ?? 0,
  });
  const createdAt = new Date().toISOString();
  let result: { info: RunInfo; metrics: MetricsJson } | undefined;

  await buildWhole(out, async (dir) => {
    writeFileAtomic(join(dir, MODEL_PT), pt);
    writeModelPy(dir, spec);
    // Loaded back through the engine, as evaluate and serve will load it: the folder is checked by its use.
    const model = await (await loadEngine('pytorch')).load(dir, MODEL_PT, spec);
    try {
      const info: RunInfo = {
        framework: 'pytorch',
        model: spec.id,
        params: model.params,
        config: cfg,
        recipe: { name: cfg.recipe, values: RECIPES[cfg.recipe], overrides: recipeOverrides(cfg) },
        engine: model.engine,
        definition: model.definition,
        modelFile: model.modelFile,
        data: {
          dir: fm.source.dir,
          origin: fm.source.origin,
          verified: fm.verified,
          trainCount: 0,
          valCount: 0,
          testCount: n,
        },
        createdAt,
        host: { cpus: availableParallelism(), node: process.version },
        provenance: { kind: 'import', source: file, sha256, createdAt },
      };
      const probs = await model.predictProbs(fm.test.images.subarray(0, n * 784), n);
      writeRunInfo(dir, info);
      const metrics = writeTestResults(dir, info, [], 0, probs, fm.test.labels.subarray(0, n), CLASS_NAMES);
      writeChecksums(dir);
      result = { info, metrics };
    } finally {
      model.dispose();
    }
  });
  return { dir: out, ...result!, format, container };
}
