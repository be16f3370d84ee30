// The numbers of a report: the comparison table, the per-class and confused-pair tables, and the
// conclusions, all computed from the runs (nothing here is hard-coded about which model wins).
import { resolve } from 'node:path';
import type { TrainConfig } from '../runs/config.js';
import type { RunInfo } from '../runs/files.js';
import { topConfusions } from '../runs/metrics.js';
import {
  frameworkName,
  isEnsemble,
  isTtaRow,
  modelName,
  resolveMemberDir,
  runLabel,
  trainingSeconds,
  type ReportRun,
} from './runs.js';

export interface Table {
  header: string[];
  rows: string[][];
  /** Columns holding numbers (right-aligned). */
  numeric: boolean[];
  /** Badges shown after a row's first cell in HTML ("ensemble", "TTA"); Markdown has them in the label. */
  tags?: Tag[][];
}

export const pct = (x: number, digits = 2) => `${(100 * x).toFixed(digits)}%`;
export const points = (x: number) => `${(100 * Math.abs(x)).toFixed(2)} points`;
const int = (x: number) => Math.round(x).toLocaleString('en-US');

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** A number formatted, or '-' when it is missing (an ensemble's metrics.json has no training fields). */
const orDash = (x: unknown, f: (x: number) => string, zeroIsMissing = false) =>
  typeof x === 'number' && Number.isFinite(x) && !(zeroIsMissing && x === 0) ? f(x) : '-';

export interface Tag {
  text: string;
  /** A tooltip: an ensemble's members. */
  title?: string;
}

/** The badges of a row: "ensemble" for an ensemble (its members as the tooltip), "TTA" for test-time augmentation. */
export function runTags(r: ReportRun): Tag[] {
  const tags: Tag[] = [];
  if (isEnsemble(r))
    tags.push({ text: 'ensemble', title: (r.members ?? []).map((m) => runLabel(m.framework, m.model)).join(' + ') });
  if (r.tta) tags.push({ text: 'TTA', title: 'evaluated with test-time augmentation' });
  return tags;
}

/**
 * The seed's table (Model, Parameters, Test Accuracy, Training Time) plus the added columns. An ensemble's
 * training time is its members' together; a TTA row's is its plain run's (TTA changes only the evaluation).
 */
export function comparisonTable(runs: readonly ReportRun[]): Table {
  const header = [
    'Model',
    'Parameters',
    'Test Accuracy',
    'Training Time',
    'Val Accuracy',
    'Epochs (best)',
    'Images/s',
    'Peak RSS',
    'Test Loss',
    'ECE',
  ];
  const rows = runs.map((r) => {
    const m = r.metrics;
    const seconds = trainingSeconds(r);
    return [
      r.label,
      orDash(m.params, int),
      orDash(m.testAccuracy, (x) => pct(x)),
      seconds == null ? '-' : formatDuration(seconds),
      orDash(m.valAccuracy, (x) => pct(x)),
      m.epochs > 0 ? `${m.epochs} (${m.bestEpoch ?? '-'})` : '-',
      orDash(m.imagesPerSecond, int, true),
      orDash(m.peakRssMB, (x) => `${int(x)} MB`, true),
      orDash(m.testLoss, (x) => x.toFixed(4)),
      orDash(m.ece, (x) => x.toFixed(4)),
    ];
  });
  return { header, rows, numeric: header.map((_, i) => i > 0), tags: runs.map(runTags) };
}

const OPTIMIZER_NAMES: Record<string, string> = { sgd: 'SGD', adam: 'Adam', adamw: 'AdamW', radam: 'RAdam' };

/**
 * The training recipe of a run in one line: the recipe's name, then the optimizer, the schedule, the
 * regularizers that are on and the augmentation. A run.json from before recipes has none of these keys; those
 * runs trained with Adam, a cosine schedule and no augmentation, and say so.
 */
export function recipeSummary(c: Partial<TrainConfig>, recipe?: RunInfo['recipe']): string {
  const opt = c.optimizer ?? 'adam';
  const parts: string[] = [];
  let o = `${OPTIMIZER_NAMES[opt] ?? opt} lr ${c.lr ?? 0.001}`;
  if (opt === 'sgd') o += ` (momentum ${c.momentum ?? 0.9}${c.nesterov ? ', Nesterov' : ''})`;
  if (c.weightDecay) o += `, weight decay ${c.weightDecay}${opt === 'adamw' ? ' (decoupled)' : ''}`;
  parts.push(o);
  const warm = c.warmupEpochs ?? 0;
  parts.push(
    `${c.lrSchedule ?? 'cosine'} schedule` + (warm > 0 ? `, ${warm} warm-up epoch${warm === 1 ? '' : 's'}` : ''),
  );
  if (c.labelSmoothing) parts.push(`label smoothing ${c.labelSmoothing}`);
  if (c.ema) parts.push(`EMA ${c.ema}`);
  const aug = c.augment ?? [];
  parts.push(
    aug.length
      ? `augmentation ${aug
          .map((a) =>
            a === 'crop' ? `crop (pad ${c.cropPad ?? 2})` : a === 'erase' ? `erase (p ${c.eraseP ?? 0.25})` : a,
          )
          .join(', ')}`
      : 'no augmentation',
  );
  const name = c.recipe ?? 'none recorded (an older run, from before recipes)';
  const changed = Object.keys(recipe?.overrides ?? {});
  return `${name}: ${parts.join('; ')}` + (changed.length ? ` (changed from the recipe: ${changed.join(', ')})` : '');
}

export interface ParetoPoint {
  x: number;
  y: number;
}

/**
 * The Pareto frontier when a smaller x (cost) and a larger y (accuracy) are better: the indices of the points
 * no other point dominates (x no larger and y no smaller, one of them strictly), by x ascending. Equal points
 * are all kept; points with a non-finite coordinate are left out.
 */
export function paretoFrontier(points: readonly ParetoPoint[]): number[] {
  const idx = points.map((_, i) => i).filter((i) => Number.isFinite(points[i].x) && Number.isFinite(points[i].y));
  const dominates = (b: ParetoPoint, a: ParetoPoint) => b.x <= a.x && b.y >= a.y && (b.x < a.x || b.y > a.y);
  return idx
    .filter((i) => !idx.some((j) => dominates(points[j], points[i])))
    .sort((a, b) => points[a].x - points[b].x || points[b].y - points[a].y);
}

export interface ParetoRow {
  run: ReportRun;
  /** Test accuracy. */
  y: number;
  /** Training seconds or trainable parameters; rows without a positive value are left out. */
  x: number;
  onFrontier: boolean;
}

/** The points of the Pareto view: accuracy against training time, or against parameters, with the frontier. */
export function paretoRows(runs: readonly ReportRun[], cost: 'seconds' | 'params'): ParetoRow[] {
  const rows = runs
    .map((run) => ({
      run,
      y: run.metrics.testAccuracy,
      x: (cost === 'seconds' ? trainingSeconds(run) : run.metrics.params) ?? Number.NaN,
    }))
    .filter((r) => r.x > 0 && Number.isFinite(r.x) && Number.isFinite(r.y));
  const front = new Set(paretoFrontier(rows));
  return rows.map((r, i) => ({ ...r, onFrontier: front.has(i) }));
}

export interface PerClassRow {
  name: string;
  support: number | null;
  /** One entry per run, in run order. */
  values: { precision: number; recall: number; f1: number }[];
}

/** Per-class precision/recall/F1 of every run, then the macro and weighted averages. */
export function perClassRows(runs: readonly ReportRun[]): PerClassRow[] {
  if (runs.length === 0) return [];
  const first = runs[0].metrics.perClass;
  const rows: PerClassRow[] = first.map((c, k) => ({
    name: c.name,
    support: c.support,
    values: runs.map((r) => {
      const x = r.metrics.perClass[k];
      return { precision: x?.precision ?? 0, recall: x?.recall ?? 0, f1: x?.f1 ?? 0 };
    }),
  }));
  const total = first.reduce((s, c) => s + c.support, 0);
  rows.push({ name: 'macro avg', support: total, values: runs.map((r) => ({ ...r.metrics.macro })) });
  rows.push({ name: 'weighted avg', support: total, values: runs.map((r) => ({ ...r.metrics.weighted })) });
  return rows;
}

/** Per-class table with one "P / R / F1" cell per run: compact enough for Markdown. */
export function perClassTable(runs: readonly ReportRun[]): Table {
  const f = (x: number) => x.toFixed(3);
  const header = ['Class', 'Support', ...runs.map((r) => `${r.label} P / R / F1`)];
  const rows = perClassRows(runs).map((row) => [
    row.name,
    row.support == null ? '' : int(row.support),
    ...row.values.map((v) => `${f(v.precision)} / ${f(v.recall)} / ${f(v.f1)}`),
  ]);
  return { header, rows, numeric: header.map((_, i) => i > 0) };
}

export const classNames = (runs: readonly ReportRun[]) => runs[0]?.metrics.perClass.map((c) => c.name) ?? [];

/** The `k` most-confused (true -> predicted) pairs of each run, side by side. */
export function confusedPairsTable(runs: readonly ReportRun[], k = 5): Table {
  const names = classNames(runs);
  const tops = runs.map((r) => topConfusions(r.metrics.confusionMatrix, names, k));
  const header = ['#', ...runs.map((r) => r.label)];
  const rows = Array.from({ length: k }, (_, i) => [
    String(i + 1),
    ...tops.map((t) => (t[i] ? `${t[i].truth} \u2192 ${t[i].predicted}: ${t[i].count} (${pct(t[i].rate, 1)})` : '')),
  ]).filter((row) => row.slice(1).some((c) => c !== ''));
  return { header, rows, numeric: header.map((_, i) => i === 0) };
}

/** The sum of the runs' confusion matrices (for conclusions "over all models"). */
export function summedConfusion(runs: readonly ReportRun[]): number[][] {
  const k = runs[0]?.metrics.confusionMatrix.length ?? 0;
  const sum = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const r of runs) r.metrics.confusionMatrix.forEach((row, t) => row.forEach((v, p) => (sum[t][p] += v)));
  return sum;
}

const signed = (x: number) => (x >= 0 ? `+${(100 * x).toFixed(2)}` : `\u2212${(100 * -x).toFixed(2)}`);
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}\u00d7` : '-');
const listJoin = (xs: string[]) =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;

/** Mean F1 of each class over the runs, best first. */
export function classRanking(runs: readonly ReportRun[]): { name: string; f1: number; recall: number }[] {
  const names = classNames(runs);
  return names
    .map((name, c) => ({
      name,
      f1: runs.reduce((s, r) => s + (r.metrics.perClass[c]?.f1 ?? 0), 0) / runs.length,
      recall: runs.reduce((s, r) => s + (r.metrics.perClass[c]?.recall ?? 0), 0) / runs.length,
    }))
    .sort((a, b) => b.f1 - a.f1);
}

export interface Conclusion {
  /** Short heading: "CNN vs dense", "Keras vs PyTorch", ... */
  topic: string;
  text: string;
}

/** The runs an ensemble is made of, among `runs` (by folder, else by framework and model). */
export function ensembleMembers(ensemble: ReportRun, runs: readonly ReportRun[]): ReportRun[] {
  const singles = runs.filter((r) => !isEnsemble(r) && !isTtaRow(r));
  return (ensemble.members ?? []).flatMap((m) => {
    const dir = resolveMemberDir(ensemble.dir, m.dir);
    const hit =
      singles.find((r) => dir != null && resolve(r.dir) === resolve(dir)) ??
      singles.find((r) => r.info.framework === m.framework && r.info.model === m.model);
    return hit ? [hit] : [];
  });
}

/** Ensembles against their best member, TTA against the plain run; null when there are neither. */
function ensembleAndTtaConclusion(runs: readonly ReportRun[]): Conclusion | null {
  const acc = (r: ReportRun) => r.metrics.testAccuracy;
  const texts: string[] = [];
  for (const e of runs.filter(isEnsemble)) {
    const members = ensembleMembers(e, runs);
    const best = [...members].sort((a, b) => acc(b) - acc(a))[0];
    texts.push(
      best
        ? `${e.label} scores ${pct(acc(e))} against ${pct(acc(best))} for its best member, ${best.label}: ` +
            `${signed(acc(e) - acc(best))} points, with ${ratio(e.metrics.params, best.metrics.params)} the parameters.`
        : `${e.label} scores ${pct(acc(e))} (its members are not in this report).`,
    );
  }
  for (const t of runs.filter(isTtaRow)) {
    const plain = runs.find((r) => r.id === t.ttaOf);
    if (!plain) continue;
    texts.push(
      `${plain.label} with TTA: ${pct(acc(t))} against ${pct(acc(plain))} without, ${signed(acc(t) - acc(plain))} points ` +
        `(ECE ${plain.metrics.ece.toFixed(4)} \u2192 ${t.metrics.ece.toFixed(4)}).`,
    );
  }
  return texts.length ? { topic: 'Ensembles and TTA', text: texts.join(' ') } : null;
}

/** The runs on the Pareto frontier by training time and by parameters; null when there are fewer than 2 runs. */
function paretoConclusion(runs: readonly ReportRun[]): Conclusion | null {
  if (runs.length < 2) return null;
  const list = (cost: 'seconds' | 'params') =>
    listJoin(
      paretoRows(runs, cost)
        .filter((r) => r.onFrontier)
        .sort((a, b) => a.x - b.x)
        .map(
          (r) => `${r.run.label} (${pct(r.y)}, ${cost === 'seconds' ? formatDuration(r.x) : `${int(r.x)} parameters`})`,
        ),
    );
  const time = list('seconds');
  const params = list('params');
  return {
    topic: 'Pareto frontier',
    text:
      'The runs no other run beats with both a higher accuracy and a lower cost: ' +
      `by training time, ${time || 'none measured'}; by parameters, ${params || 'none measured'}.`,
  };
}

/**
 * Sentences computed from the numbers: CNN gain, Keras vs PyTorch, accuracy per 1k parameters, classes, pairs
 * and calibration over the trained models; then the Pareto frontier over every row, and ensembles and TTA
 * against what they are built from.
 */
export function conclusions(all: readonly ReportRun[]): Conclusion[] {
  const runs = all.filter((r) => !isEnsemble(r) && !isTtaRow(r));
  if (runs.length === 0) return [];
  const out: Conclusion[] = [];
  const find = (f: string, m: string) => runs.find((r) => r.info.framework === f && r.info.model === m);
  const frameworks = [...new Set(runs.map((r) => r.info.framework))];
  const models = [...new Set(runs.map((r) => r.info.model))];
  const acc = (r: ReportRun) => r.metrics.testAccuracy;

  const best = [...runs].sort((a, b) => acc(b) - acc(a))[0];
  out.push({
    topic: 'Best model',
    text:
      runs.length === 1
        ? `${best.label} reaches ${pct(acc(best))} test accuracy (the only model in this report).`
        : `${best.label} has the best test accuracy, ${pct(acc(best))}, of the ${runs.length} models.`,
  });

  const gains: string[] = [];
  for (const f of frameworks) {
    const dense = find(f, 'dense');
    const cnn = find(f, 'cnn');
    if (!dense || !cnn) continue;
    const g = acc(cnn) - acc(dense);
    gains.push(
      `${frameworkName(f)}: the CNN scores ${pct(acc(cnn))} against the dense net's ${pct(acc(dense))}, ` +
        `${signed(g)} points, with ${ratio(cnn.metrics.params, dense.metrics.params)} the parameters ` +
        `and ${ratio(cnn.metrics.trainSeconds, dense.metrics.trainSeconds)} the training time.`,
    );
  }
  out.push({
    topic: 'CNN vs dense',
    text: gains.length ? gains.join(' ') : 'Not measured: no framework has both a dense and a CNN run here.',
  });

  const diffs: string[] = [];
  for (const m of models) {
    const k = find('keras', m);
    const p = find('pytorch', m);
    if (!k || !p) continue;
    const d = acc(p) - acc(k);
    const lead =
      Math.abs(d) < 0.0005 ? 'level (within 0.05 points)' : `${d > 0 ? 'PyTorch' : 'Keras'} ahead by ${points(d)}`;
    diffs.push(
      `${m === 'dense' ? 'Dense net' : modelName(m)}: PyTorch ${pct(acc(p))} vs Keras ${pct(acc(k))}, ${lead}; ` +
        `training took ${formatDuration(p.metrics.trainSeconds)} in PyTorch and ${formatDuration(k.metrics.trainSeconds)} in Keras ` +
        `(${int(p.metrics.imagesPerSecond)} vs ${int(k.metrics.imagesPerSecond)} images/s).`,
    );
  }
  out.push({
    topic: 'Keras vs PyTorch',
    text: diffs.length ? diffs.join(' ') : 'Not measured: no model was trained in both frameworks here.',
  });

  const per1k = runs
    .map((r) => ({ label: r.label, v: (100 * acc(r)) / (r.metrics.params / 1000) }))
    .sort((a, b) => b.v - a.v);
  out.push({
    topic: 'Accuracy per 1k parameters',
    text:
      `${listJoin(per1k.map((x) => `${x.label} ${x.v.toFixed(2)}`))} accuracy points per 1,000 parameters` +
      (per1k.length > 1 ? `; ${per1k[0].label} makes the most of its parameters.` : '.'),
  });

  const ranking = classRanking(runs);
  if (ranking.length) {
    const n = Math.min(3, Math.floor(ranking.length / 2) || 1);
    const hard = ranking.slice(-n).reverse();
    const easy = ranking.slice(0, n);
    const fmt = (c: { name: string; f1: number }) => `${c.name} (F1 ${c.f1.toFixed(3)})`;
    const hardestPerRun = runs.map((r) => [...r.metrics.perClass].sort((a, b) => a.f1 - b.f1)[0]?.name);
    const agree = runs.length > 1 && hardestPerRun.every((x) => x === hardestPerRun[0]);
    out.push({
      topic: 'Hardest and easiest classes',
      text:
        `By mean F1 over ${runs.length === 1 ? 'the model' : `the ${runs.length} models`}, the hardest ` +
        `${n === 1 ? 'class is' : 'classes are'} ${listJoin(hard.map(fmt))}; the easiest ${listJoin(easy.map(fmt))}.` +
        (agree ? ` Every model finds ${hardestPerRun[0]} hardest.` : ''),
    });
  }

  const names = classNames(runs);
  const pairs = topConfusions(summedConfusion(runs), names, 3);
  if (pairs.length) {
    out.push({
      topic: 'Most-confused pairs',
      text:
        `True \u2192 predicted, summed over ${runs.length === 1 ? 'the model' : `the ${runs.length} models`}: ` +
        pairs
          .map((p) => `${p.truth} \u2192 ${p.predicted}, ${int(p.count)} images (${pct(p.rate, 1)} of ${p.truth})`)
          .join('; ') +
        '.',
    });
  }

  const byEce = [...runs].sort((a, b) => a.metrics.ece - b.metrics.ece);
  out.push({
    topic: 'Calibration',
    text:
      runs.length === 1
        ? `Expected calibration error ${byEce[0].metrics.ece.toFixed(4)}.`
        : `Best calibrated: ${byEce[0].label} (ECE ${byEce[0].metrics.ece.toFixed(4)}); ` +
          `least: ${byEce[byEce.length - 1].label} (ECE ${byEce[byEce.length - 1].metrics.ece.toFixed(4)}).`,
  });
  const extra = [paretoConclusion(all), ensembleAndTtaConclusion(all)].filter((c): c is Conclusion => c != null);
  return [...out, ...extra];
}
