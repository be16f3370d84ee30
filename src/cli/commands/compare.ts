// `fmnist compare`: train (or reuse) every framework x model run under one folder, then write the report.
// `fmnist report`: rebuild the report from the runs already there, without training.
import { Command, Option } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadFashionMnist, type Split } from '../../data/index.js';
import {
  CONFIG_FIELDS,
  makeConfig,
  type Arch,
  type ConfigKey,
  type Framework,
  type TrainConfig,
} from '../../runs/config.js';
import { buildReport, isEnsemble, loadRun, loadRuns, runId, runLabel, type ReportOutput } from '../../report/index.js';
import { FRAMEWORKS, MODELS } from '../../report/runs.js';
import { flagName, resumeTraining, runTraining } from './train.js';
import { resumeRun } from '../../runs/checkpoint.js';
import { runLockHolder } from '../../runs/lock.js';

export interface CompareOptions {
  frameworks: Framework[];
  models: Arch[];
  /** Report and run folders go here: `<out>/<framework>-<model>/`. */
  out: string;
  epochs?: number;
  seed?: number;
  threads?: number;
  dataDir?: string;
  limit?: number;
  testLimit?: number;
  /** Train even when a finished run (with metrics.json) is already there. */
  retrain?: boolean;
}

export interface ReportImages {
  test: Split | null;
  samples: Split | null;
}

export interface CompareDeps {
  /** Trains `cfg` into cfg.out; with `resume`, continues it from its checkpoint (fmnist train --resume). */
  train: (cfg: TrainConfig, log: (s: string) => void, resume?: boolean) => Promise<unknown>;
  /** Test images for the prediction grids and training images for the sample grid; null when there is no data. */
  images: (dataDir: string | undefined) => Promise<ReportImages | null>;
  log: (s: string) => void;
}

export interface CompareResult {
  trained: string[];
  reused: string[];
  /** Runs that could not be trained, with why (the Keras side not being there yet, or an error). */
  skipped: { id: string; reason: string; unavailable: boolean }[];
  report: ReportOutput;
}

/** The images the report shows, loaded quietly; null (with the reason logged) when the data cannot be found. */
export async function loadReportImages(
  dataDir: string | undefined,
  log: (s: string) => void = console.log,
): Promise<ReportImages | null> {
  try {
    const fm = await loadFashionMnist({ dataDir, quiet: true });
    return { test: fm.test, samples: fm.train };
  } catch (e) {
    log(`report: no images for the sample and prediction grids (${(e as Error).message.split('\n')[0]})`);
    return null;
  }
}

/** The `fmnist train` arguments that reproduce `cfg` exactly: every key of the config, as its flag. */
export function trainArgs(cfg: TrainConfig): string[] {
  const args = ['train'];
  for (const k of Object.keys(CONFIG_FIELDS) as ConfigKey[]) {
    const v = cfg[k];
    if (k === 'dataDir' && !cfg.dataDir) continue;
    // A boolean is --x or --no-x; a list is comma-separated, 'none' when empty.
    if (typeof v === 'boolean') args.push(flagName(v ? k : `no-${k}`));
    else if (Array.isArray(v)) args.push(flagName(k), v.length ? v.join(',') : 'none');
    else args.push(flagName(k), String(v));
  }
  return args;
}

/**
 * Trains one model in a child `fmnist train`, so that each run's peak RSS and speed are its own (not the
 * high-water mark of every model trained before it in this process), and a crash ends only that run.
 * Falls back to training in this process when there is no script to start (e.g. an embedded REPL).
 */
export function trainInChildProcess(cfg: TrainConfig, log: (s: string) => void, resume = false): Promise<void> {
  const script = process.argv[1];
  if (!script || !existsSync(script))
    return (resume ? resumeTraining(cfg.out, cfg, log) : runTraining(cfg, log)).then(() => undefined);
  // --resume DIR takes --out's place; the other flags must match the checkpoint, which resumeRun checked
  const args = trainArgs(cfg);
  if (resume) args.splice(args.indexOf('--out'), 2, '--resume', cfg.out);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let errors = '';
    const lines = (stream: NodeJS.ReadableStream, onLine: (l: string) => void) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        const parts = buf.split(/\r?\n|\r/);
        buf = parts.pop() ?? '';
        parts.filter((l) => l.trim()).forEach(onLine);
      });
      stream.on('end', () => buf.trim() && onLine(buf));
    };
    lines(child.stdout, log);
    lines(child.stderr, (l) => {
      const m = /^fmnist: error: (.*)$/.exec(l);
      if (m) errors += `${errors ? '; ' : ''}${m[1]}`;
      else log(l);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(errors || `fmnist train exited with ${signal ?? `code ${code}`}`));
    });
  });
}

const DEFAULT_DEPS: CompareDeps = {
  train: trainInChildProcess,
  images: (dataDir) => loadReportImages(dataDir),
  log: console.log,
};

/** A run folder whose history.json changed this recently is taken to be another process's training in progress. */
/** How far an interrupted run in `dir` got, when its checkpoint can continue `cfg`; null when it cannot. */
function resumable(dir: string, cfg: TrainConfig): string | null {
  if (!existsSync(join(dir, 'run.json'))) return null;
  try {
    const r = resumeRun(dir, cfg);
    const s = r.checkpoint.state;
    return `${s.epoch} epoch${s.epoch === 1 ? '' : 's'} done${s.batch ? ` and ${s.batch} batches` : ''}`;
  } catch {
    return null; // no checkpoint, or one for another config: train afresh
  }
}

/** "not available yet": a framework whose implementation has not landed. Anything else is a real failure. */
const isUnavailable = (e: unknown) => /not available yet/i.test((e as Error)?.message ?? '');

/** Settings of an existing run that differ from what this compare asked for, e.g. "limit 1000 (asked 0)". */
export function configDifferences(had: TrainConfig, want: TrainConfig): string[] {
  const keys = [
    'epochs',
    'limit',
    'testLimit',
    'seed',
    'batchSize',
    'lr',
    'valSplit',
    'recipe',
    'optimizer',
    'augment',
  ] as const;
  // runs from before recipes have no recipe key: they were the seed's
  const old: Partial<TrainConfig> = { recipe: 'seed', optimizer: 'adam', augment: [] };
  const show = (v: unknown) => (Array.isArray(v) ? v.join(',') || 'none' : String(v));
  return keys
    .filter((k) => JSON.stringify(had[k] ?? old[k]) !== JSON.stringify(want[k]))
    .map((k) => `${k} ${show(had[k] ?? old[k])} (asked ${show(want[k])})`);
}

export async function runCompare(opts: CompareOptions, deps: Partial<CompareDeps> = {}): Promise<CompareResult> {
  const { train, images, log } = { ...DEFAULT_DEPS, ...deps };
  const trained: string[] = [];
  const reused: string[] = [];
  const skipped: CompareResult['skipped'] = [];
  const notes: string[] = [];

  for (const framework of opts.frameworks) {
    for (const model of opts.models) {
      const id = runId(framework, model);
      const label = runLabel(framework, model);
      const dir = join(opts.out, id);
      const cfg = makeConfig({
        framework,
        model,
        epochs: opts.epochs,
        seed: opts.seed,
        threads: opts.threads,
        dataDir: opts.dataDir,
        limit: opts.limit,
        testLimit: opts.testLimit,
        out: dir,
      });
      const existing = existsSync(join(dir, 'metrics.json')) ? loadRun(dir) : null;
      if (existing?.ok && !opts.retrain) {
        const diff = configDifferences(existing.run.info.config, cfg);
        log(
          `${label}: reusing ${dir} (test accuracy ${(100 * existing.run.metrics.testAccuracy).toFixed(2)}%)` +
            (diff.length ? `; it was trained with ${diff.join(', ')}` : '') +
            '; --retrain trains it again',
        );
        if (diff.length) notes.push(`${label} was reused from an earlier run trained with ${diff.join(', ')}.`);
        reused.push(id);
        continue;
      }
      const busy = !existing && !opts.retrain ? runLockHolder(dir) : null;
      if (busy != null) {
        const reason = `${dir} is being trained right now (by process ${busy})`;
        log(`${label}: skipped: ${reason}; run \`fmnist report --out ${opts.out}\` when it is done, or pass --retrain`);
        skipped.push({ id, reason, unavailable: true });
        notes.push(`${label} is missing: ${reason}.`);
        continue;
      }
      const resume = opts.retrain ? null : resumable(dir, cfg);
      if (resume) log(`${label}: resuming ${dir} from its checkpoint (${resume})`);
      else log(`${label}: training into ${dir} (up to ${cfg.epochs} epochs)`);
      try {
        await train(cfg, (s) => log(`  ${s}`), resume !== null);
        trained.push(id);
      } catch (e) {
        const reason = (e as Error).message;
        const unavailable = isUnavailable(e);
        skipped.push({ id, reason, unavailable });
        log(
          unavailable
            ? `${label}: skipped (${reason}); the report covers the other models`
            : `${label}: training failed: ${reason}`,
        );
        notes.push(`${label} is missing: ${unavailable ? '' : 'training failed: '}${reason}.`);
      }
    }
  }

  log('writing the report');
  const report = await writeReport(opts.out, { dataDir: opts.dataDir, notes, images, log, only: opts });
  return { trained, reused, skipped, report };
}

/** Builds the report from the finished runs in `out` (only the asked frameworks/models, when given). */
export async function writeReport(
  out: string,
  o: {
    dataDir?: string;
    notes?: string[];
    images?: CompareDeps['images'];
    log?: (s: string) => void;
    only?: { frameworks: readonly string[]; models: readonly string[] };
  } = {},
): Promise<ReportOutput> {
  const log = o.log ?? console.log;
  const notes = [...(o.notes ?? [])];
  const found = loadRuns(out);
  for (const s of found.skipped) notes.push(`${s.dir} was left out: ${s.reason}.`);
  const asked = (framework: string, model: string) =>
    !o.only || (o.only.frameworks.includes(framework) && o.only.models.includes(model));
  // An ensemble is in when every one of its members is (TTA rows share their run's framework and model).
  const runs = found.runs.filter((r) =>
    isEnsemble(r)
      ? (r.members ?? []).length > 0 && (r.members ?? []).every((m) => asked(m.framework, m.model))
      : asked(r.info.framework, r.info.model),
  );
  if (!o.only)
    for (const f of FRAMEWORKS)
      for (const m of MODELS)
        if (
          !runs.some((r) => r.info.framework === f && r.info.model === m) &&
          !found.skipped.some((s) => s.dir === join(out, runId(f, m)))
        )
          notes.push(`No ${runLabel(f, m)} run in ${out} yet; fmnist compare --out ${out} trains it.`);
  const imgs = runs.length ? await (o.images ?? DEFAULT_DEPS.images)(o.dataDir) : null;
  if (runs.length && !imgs) notes.push('The dataset was not found, so the report has no sample or prediction grids.');
  const report = await buildReport({ outDir: out, runs, test: imgs?.test, samples: imgs?.samples, notes, log });
  log(`wrote ${report.html}, ${report.md} and ${report.figures.length} figures (SVG + PNG) in ${report.figuresDir}`);
  return report;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got '${v}'`);
  return n;
};

function listOf<T extends string>(what: string, allowed: readonly T[]) {
  return (v: string): T[] => {
    const xs = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = xs.filter((x) => !allowed.includes(x as T));
    if (bad.length || xs.length === 0)
      throw new Error(`--${what} takes a comma-separated list of ${allowed.join(', ')} (got '${v}')`);
    return [...new Set(xs)] as T[];
  };
}

/** What `fmnist compare` trains unless --models says otherwise: the seed's comparison (dense and CNN). */
export const SEED_MODELS: readonly Arch[] = ['dense', 'cnn'];

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('train every framework x model (or reuse finished runs) and write report.html, report.md and figures/')
    .addOption(
      new Option('--frameworks <list>', 'comma-separated frameworks')
        .argParser(listOf('frameworks', FRAMEWORKS))
        .default([...FRAMEWORKS], FRAMEWORKS.join(',')),
    )
    .addOption(
      new Option('--models <list>', `comma-separated models, any of ${MODELS.join(', ')}`)
        .argParser(listOf('models', MODELS))
        .default([...SEED_MODELS], SEED_MODELS.join(',')),
    )
    .option(
      '--epochs <n>',
      "most epochs for every model (default: each model's own, see `fmnist models`; early stopping may end sooner)",
      int,
    )
    .option('--out <dir>', 'folder for the run folders and the report', 'runs')
    .option('--retrain', 'train even when a finished run is already in --out')
    .option('--seed <n>', 'random seed (default 42)', int)
    .option('--threads <n>', 'libtorch threads (default: number of cores)', int)
    .option('--data-dir <dir>', 'use the data in this folder only')
    .option('--limit <n>', 'use only the first N training images (for quick tries)', int)
    .option('--test-limit <n>', 'use only the first N test images', int)
    .action(async (o) => {
      const result = await runCompare({
        frameworks: o.frameworks,
        models: o.models,
        out: o.out,
        epochs: o.epochs,
        seed: o.seed,
        threads: o.threads,
        dataDir: o.dataDir,
        limit: o.limit,
        testLimit: o.testLimit,
        retrain: Boolean(o.retrain),
      });
      const failed = result.skipped.filter((s) => !s.unavailable);
      if (failed.length) throw new Error(`training failed for ${failed.map((s) => s.id).join(', ')} (see above)`);
    });

  program
    .command('report')
    .description('rebuild report.html, report.md and figures/ from the finished runs in a folder, without training')
    .option('--out <dir>', 'folder holding the run folders', 'runs')
    .option('--data-dir <dir>', 'use the data in this folder only (for the sample and prediction grids)')
    .action(async (o) => {
      if (!existsSync(o.out))
        throw new Error(`${o.out}: folder not found (train with \`fmnist compare --out ${o.out}\`)`);
      const { runs, skipped } = loadRuns(o.out);
      if (runs.length === 0)
        throw new Error(
          `no finished runs in ${o.out}` +
            skipped.map((s) => `\n  ${s.dir}: ${s.reason}`).join('') +
            `\n(train them with \`fmnist compare --out ${o.out}\`)`,
        );
      await writeReport(o.out, { dataDir: o.dataDir });
    });
}
