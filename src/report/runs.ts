// The runs a report covers: run folders `<out>/<framework>-<model>/` read back from disk.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Framework } from '../engines/index.js';
import { MODEL_IDS } from '../models/index.js';
import { runLabel } from '../runs/labels.js';
import { readRun, readTestProbs, type EpochRecord, type MetricsJson, type RunInfo } from '../runs/files.js';

/** Report order: Keras before PyTorch; models in the registry's order. */
export const FRAMEWORKS: readonly Framework[] = ['keras', 'pytorch'];
export const MODELS: readonly string[] = MODEL_IDS;

export interface ReportRun {
  /** `<framework>-<model>`, also the run folder's name. */
  id: string;
  /** "Keras dense", "PyTorch CNN". */
  label: string;
  dir: string;
  info: RunInfo;
  history: EpochRecord[];
  metrics: MetricsJson;
  /** test-probs.bin: float32 [testCount x 10], or null when the file is missing or does not match. */
  probs: Float32Array | null;
}

export const runId = (framework: string, model: string) => `${framework}-${model}`;
export { frameworkName, modelName, runLabel } from '../runs/labels.js';

/** One colour per run, the same in every chart: the framework picks the hue, the model the shade. */
const RUN_COLORS: Record<string, string> = {
  'keras-dense': '#f4a259',
  'keras-cnn': '#c2410c',
  'pytorch-dense': '#7fb3e0',
  'pytorch-cnn': '#1f5fa8',
};
const SPARE_COLORS = ['#6a9f58', '#967662', '#a87c9f', '#d1615d', '#85b6b2', '#e7ca60'];

export function runColors(runs: readonly ReportRun[]): { domain: string[]; range: string[] } {
  let spare = 0;
  return {
    domain: runs.map((r) => r.label),
    range: runs.map((r) => RUN_COLORS[r.id] ?? SPARE_COLORS[spare++ % SPARE_COLORS.length]),
  };
}

/** Report order: Keras before PyTorch, dense before CNN, anything else after, by name. */
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
  const testCount = metrics.confusionMatrix.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  let probs = readTestProbs(dir);
  if (probs && probs.length !== testCount * metrics.confusionMatrix.length) probs = null;
  return {
    ok: true,
    run: {
      id: runId(info.framework, info.model),
      label: runLabel(info.framework, info.model),
      dir,
      info,
      history,
      metrics,
      probs,
    },
  };
}

/** Every run folder directly under `outDir` (those with a run.json), in report order. */
export function loadRuns(outDir: string): { runs: ReportRun[]; skipped: { dir: string; reason: string }[] } {
  if (!existsSync(outDir)) return { runs: [], skipped: [] };
  const runs: ReportRun[] = [];
  const skipped: { dir: string; reason: string }[] = [];
  for (const name of readdirSync(outDir).sort()) {
    const dir = join(outDir, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'run.json'))) continue;
    const r = loadRun(dir);
    if (!r.ok) skipped.push({ dir: r.dir, reason: r.reason });
    else if (runs.some((o) => o.id === r.run.id))
      // A second run of the same framework and model (say, an older try kept in another folder): its figures
      // must not overwrite the first one's, so it is named after its folder.
      runs.push({ ...r.run, id: name, label: `${r.run.label} (${name})` });
    else runs.push(r.run);
  }
  return { runs: sortRuns(runs), skipped };
}
