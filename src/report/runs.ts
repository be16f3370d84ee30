// The runs a report covers: run folders `<out>/<framework>-<model>/` read back from disk, ensemble folders
// (`fmnist ensemble`: run.json with framework "ensemble" and its members), and the test-time-augmentation
// results (`fmnist evaluate --tta`: metrics-tta.json beside metrics.json) as rows of their own.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Framework } from '../engines/index.js';
import { MODEL_IDS } from '../models/index.js';
import { frameworkName, runLabel } from '../runs/labels.js';
import { readJson } from '../util/fsutil.js';
import {
  readRun,
  readTestProbs,
  type EpochRecord,
  type MetricsJson,
  type Provenance,
  type RunInfo,
} from '../runs/files.js';

/** Report order: Keras before PyTorch; models in the registry's order. */
export const FRAMEWORKS: readonly Framework[] = ['keras', 'pytorch'];
export const MODELS: readonly string[] = MODEL_IDS;

/** One model of an ensemble, as its run.json lists it. */
export interface EnsembleMember {
  dir: string;
  framework: string;
  model: string;
  params: number;
}

export interface ReportRun {
  /** `<framework>-<model>`, also the run folder's name; an ensemble's folder name; `<id>-tta` for a TTA row. */
  id: string;
  /** "Keras dense", "PyTorch CNN", "Ensemble of 3", "PyTorch CNN (TTA)". */
  label: string;
  dir: string;
  /**
   * run.json. An ensemble's has framework and model "ensemble" and no config, engine, history or definition:
   * read those fields only where `kind` is 'single'.
   */
  info: RunInfo;
  history: EpochRecord[];
  /** metrics.json, or metrics-tta.json for a TTA row. An ensemble's may lack the training fields. */
  metrics: MetricsJson;
  /** test-probs.bin: float32 [testCount x 10], or null when the file is missing or does not match. */
  probs: Float32Array | null;
  /** 'ensemble' for a folder from `fmnist ensemble`; absent (or 'single') for one trained model. */
  kind?: 'single' | 'ensemble';
  /** The numbers are with test-time augmentation: a TTA row, or an ensemble evaluated with TTA. */
  tta?: boolean;
  /** For a TTA row from metrics-tta.json: the id of the plain run it sits next to. */
  ttaOf?: string;
  /** An ensemble's members. */
  members?: EnsembleMember[];
  /**
   * Training time in seconds: metrics.trainSeconds; for an ensemble without its own, the sum of its members'
   * (null when one of them cannot be read); a TTA row has its plain run's.
   */
  trainSeconds?: number | null;
}

export const isEnsemble = (r: ReportRun) => r.kind === 'ensemble';
/** A TTA row derived from another run's metrics-tta.json (not a model of its own). */
export const isTtaRow = (r: ReportRun) => r.ttaOf != null;
/** The runs that are models of their own: everything but the TTA rows. */
export const modelRuns = <T extends ReportRun>(runs: readonly T[]): T[] => runs.filter((r) => !isTtaRow(r));
/** The training time of a run, null when unknown (an ensemble whose members cannot be read). */
export function trainingSeconds(r: ReportRun): number | null {
  if (r.trainSeconds !== undefined) return r.trainSeconds;
  const s = r.metrics.trainSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s > 0 ? s : null;
}

export const ensembleLabel = (members: number, tta: boolean) => `Ensemble of ${members}${tta ? ' (TTA)' : ''}`;
export const ttaLabel = (label: string) => `${label} (TTA)`;

export const runId = (framework: string, model: string) => `${framework}-${model}`;

/**
 * Where a run's weights came from when fmnist did not train them in its folder: "converted from Keras,
 * keras-resnet" (`fmnist convert`), "imported from resnet.pt" (`fmnist import`); `full` names the whole path.
 */
export function provenanceText(p: Provenance, full = false): string {
  const source = full ? p.source : basename(p.source);
  if (p.kind === 'convert') return `converted from ${frameworkName(p.framework ?? '?')}, ${source}`;
  return `imported from ${source}`;
}
export { frameworkName, modelName, runLabel } from '../runs/labels.js';

/**
 * One colour per run, the same in every chart: warm colours for Keras, cool ones for PyTorch (the seed's four
 * in orange and blue), greens for ensembles.
 */
const RUN_COLORS: Record<string, string> = {
  'keras-dense': '#f4a259',
  'keras-cnn': '#c2410c',
  'keras-cnn-bn': '#d1615d',
  'keras-resnet': '#8c3b2b',
  'keras-mobilenet': '#e7ca60',
  'pytorch-dense': '#7fb3e0',
  'pytorch-cnn': '#1f5fa8',
  'pytorch-cnn-bn': '#2a9d8f',
  'pytorch-resnet': '#6a51a3',
  'pytorch-mobilenet': '#17becf',
};
const ENSEMBLE_COLORS = ['#3b8a3e', '#9bc53d', '#1b5e20'];
const SPARE_COLORS = ['#967662', '#a87c9f', '#e377c2', '#7f7f7f', '#bcbd22', '#85b6b2'];

export function runColors(runs: readonly ReportRun[]): { domain: string[]; range: string[] } {
  let spare = 0;
  let ensemble = 0;
  return {
    domain: runs.map((r) => r.label),
    range: runs.map(
      (r) =>
        (r.kind === 'ensemble' && ensemble < ENSEMBLE_COLORS.length ? ENSEMBLE_COLORS[ensemble++] : undefined) ??
        RUN_COLORS[r.id] ??
        SPARE_COLORS[spare++ % SPARE_COLORS.length],
    ),
  };
}

/** Report order: Keras before PyTorch, dense before CNN, anything else (ensembles) after, by name. */
export function sortRuns<T extends { info: { framework: string; model: string }; id: string }>(runs: T[]): T[] {
  const rank = (xs: readonly string[], x: string) => (xs.includes(x) ? xs.indexOf(x) : xs.length);
  return [...runs].sort(
    (a, b) =>
      rank(FRAMEWORKS, a.info.framework) - rank(FRAMEWORKS, b.info.framework) ||
      rank(MODELS, a.info.model) - rank(MODELS, b.info.model) ||
      a.id.localeCompare(b.id),
  );
}

export type LoadedRun = { ok: true; run: ReportRun } | { ok: false; dir: string; reason: string };

type EnsembleInfo = Omit<Partial<RunInfo>, 'framework'> & { framework: string; members?: unknown; tta?: unknown };

/** Where an ensemble member's folder is now: as written (from the working folder), inside the ensemble, or a sibling. */
export function resolveMemberDir(ensembleDir: string, memberDir: string): string | null {
  const candidates = isAbsolute(memberDir)
    ? [memberDir, join(dirname(ensembleDir), basename(memberDir))]
    : [
        resolve(memberDir),
        join(ensembleDir, memberDir),
        join(dirname(ensembleDir), memberDir),
        join(dirname(ensembleDir), basename(memberDir)),
      ];
  return candidates.find((d) => existsSync(join(d, 'metrics.json'))) ?? null;
}

/** The sum of the members' training times, or null when one of them cannot be read. */
function membersSeconds(ensembleDir: string, members: readonly EnsembleMember[]): number | null {
  let sum = 0;
  for (const m of members) {
    const dir = resolveMemberDir(ensembleDir, m.dir);
    if (!dir) return null;
    try {
      const s = readJson<Partial<MetricsJson>>(join(dir, 'metrics.json')).trainSeconds;
      if (typeof s !== 'number' || !(s > 0)) return null;
      sum += s;
    } catch {
      return null;
    }
  }
  return sum;
}

const positive = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : null);

/** Reads one run folder; a run without metrics.json (still training, or stopped) is not ready for a report. */
export function loadRun(dir: string): LoadedRun {
  let r: ReturnType<typeof readRun>;
  try {
    r = readRun(dir);
  } catch (e) {
    return { ok: false, dir, reason: (e as Error).message };
  }
  if (!r.metrics) return { ok: false, dir, reason: 'no metrics.json yet (training unfinished or interrupted)' };
  const { info, history, metrics } = r;
  if (!Array.isArray(metrics.confusionMatrix) || !Array.isArray(metrics.perClass))
    return { ok: false, dir, reason: 'metrics.json has no confusion matrix or per-class metrics' };
  const testCount = metrics.confusionMatrix.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  let probs = readTestProbs(dir);
  if (probs && probs.length !== testCount * metrics.confusionMatrix.length) probs = null;
  const e = info as unknown as EnsembleInfo;
  if (e.framework === 'ensemble') {
    const members: EnsembleMember[] = Array.isArray(e.members)
      ? (e.members as Partial<EnsembleMember>[]).map((m) => ({
          dir: String(m?.dir ?? ''),
          framework: String(m?.framework ?? '?'),
          model: String(m?.model ?? '?'),
          params: Number(m?.params ?? 0),
        }))
      : [];
    const tta = e.tta === true;
    const params = positive(metrics.params) ?? positive(e.params) ?? members.reduce((s, m) => s + (m.params || 0), 0);
    const name = basename(dir);
    return {
      ok: true,
      run: {
        id: name.startsWith('ensemble') ? name : `ensemble-${name}`,
        label: ensembleLabel(members.length, tta),
        dir,
        info: { ...info, params },
        history: [],
        metrics: { ...metrics, params },
        probs,
        kind: 'ensemble',
        tta,
        members,
        trainSeconds: positive(metrics.trainSeconds) ?? membersSeconds(dir, members),
      },
    };
  }
  return {
    ok: true,
    run: {
      id: runId(info.framework, info.model),
      // every chart, table and sentence names the run by this label, so a converted or imported run says so everywhere
      label: runLabel(info.framework, info.model) + (info.provenance ? ` (${provenanceText(info.provenance)})` : ''),
      dir,
      info,
      history,
      metrics,
      probs,
      kind: 'single',
    },
  };
}

/**
 * The TTA row of a run whose folder has metrics-tta.json (same shape as metrics.json), or null. It keeps the
 * plain run's training time and parameters where the file lacks them; it has no history and no probabilities.
 */
export function loadTtaRow(run: ReportRun): ReportRun | null {
  const p = join(run.dir, 'metrics-tta.json');
  if (run.tta || !existsSync(p)) return null;
  let m: MetricsJson;
  try {
    m = readJson<MetricsJson>(p);
  } catch {
    return null;
  }
  if (typeof m?.testAccuracy !== 'number' || !Array.isArray(m.confusionMatrix) || !Array.isArray(m.perClass))
    return null;
  return {
    ...run,
    id: `${run.id}-tta`,
    label: ttaLabel(run.label),
    history: [],
    metrics: { ...m, params: positive(m.params) ?? run.metrics.params },
    probs: null,
    tta: true,
    ttaOf: run.id,
    trainSeconds: trainingSeconds(run),
  };
}

/** Every run folder directly under `outDir` (those with a run.json), in report order; TTA rows after their run. */
export function loadRuns(outDir: string): { runs: ReportRun[]; skipped: { dir: string; reason: string }[] } {
  if (!existsSync(outDir)) return { runs: [], skipped: [] };
  const runs: ReportRun[] = [];
  const skipped: { dir: string; reason: string }[] = [];
  for (const name of readdirSync(outDir).sort()) {
    const dir = join(outDir, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'run.json'))) continue;
    const r = loadRun(dir);
    if (!r.ok) skipped.push({ dir: r.dir, reason: r.reason });
    else if (runs.some((o) => o.id === r.run.id || o.label === r.run.label))
      // A second run of the same framework and model (say, an older try kept in another folder), or a second
      // ensemble of as many models: its figures must not overwrite the first one's, so it is named after its folder.
      runs.push({ ...r.run, id: r.run.id === name ? `${name}-2` : name, label: `${r.run.label} (${name})` });
    else runs.push(r.run);
  }
  const all = sortRuns(runs).flatMap((r) => {
    const tta = loadTtaRow(r);
    return tta ? [r, tta] : [r];
  });
  // A TTA row can meet a label already taken (an ensemble's TTA row and an ensemble evaluated with TTA):
  // charts and the table tell rows apart by label, figures by id.
  const labels = new Set<string>();
  const ids = new Set<string>();
  for (const r of all) {
    if (labels.has(r.label)) r.label = `${r.label} (${basename(r.dir)})`;
    while (ids.has(r.id)) r.id = `${r.id}-2`;
    labels.add(r.label);
    ids.add(r.id);
  }
  return { runs: all, skipped };
}
