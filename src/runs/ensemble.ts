// `fmnist ensemble`: the mean of the class probabilities of two or more runs, of either framework, written as a
// run folder of its own (run.json with framework "ensemble" and its members, metrics.json, test-probs.bin).
// Everything is checked before anything is written, and the folder appears whole (written under a temporary
// name, then renamed) or not at all. loadPredictor(dir) loads such a folder (src/runs/predictor.ts).
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { CLASS_NAMES, loadFashionMnist } from '../data/index.js';
import { FRAMEWORKS, type Framework } from '../engines/index.js';
import {
  ENSEMBLE,
  isEnsemble,
  readRun,
  readTestProbs,
  testMetrics,
  writeChecksums,
  writeMetrics,
  writeRunInfo,
  writeTestProbs,
  type EnsembleMember,
  type MetricsJson,
  type RunInfo,
} from './files.js';
import { tempTag } from '../util/fsutil.js';
import { evaluateProbs } from './metrics.js';
import { loadPredictor, type Predictor } from './predictor.js';
import { averageProbs, predictTta, unionOfViews, viewNames, viewsFor } from './tta.js';
import { runLabel } from './labels.js';

/** Bad input to `fmnist ensemble`: the message is one line that names the folder and the problem. */
export class EnsembleError extends Error {}

export interface EnsembleOptions {
  /** The members' run folders (at least 2). */
  dirs: readonly string[];
  /** The ensemble folder to write: new, empty, or an earlier ensemble (replaced). */
  out: string;
  /** Average each member's probabilities over the test-time views (TTA_VIEWS) too. */
  tta?: boolean;
  /** Where the test labels (and, with tta, images) come from; default: found as `fmnist data` finds them. */
  dataDir?: string;
  log?: (s: string) => void;
}

export interface EnsembleResult {
  dir: string;
  info: RunInfo;
  metrics: MetricsJson;
  /** Each member's own test accuracy (from its metrics.json), in order. */
  memberAccuracy: number[];
}

interface Member {
  dir: string;
  info: RunInfo;
  metrics: MetricsJson;
  probs: Float32Array;
  /** Test images it was evaluated on. */
  count: number;
}

const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
const supports = (m: MetricsJson) => m.perClass.map((c) => c.support).join(',');

function readMember(dir: string): Member {
  if (!existsSync(dir)) throw new EnsembleError(`${dir}: run folder not found`);
  if (!statSync(dir).isDirectory()) throw new EnsembleError(`${dir}: not a folder`);
  let r: ReturnType<typeof readRun>;
  try {
    r = readRun(dir);
  } catch (e) {
    throw new EnsembleError((e as Error).message);
  }
  const { info, metrics } = r;
  if (isEnsemble(info)) throw new EnsembleError(`${dir}: is an ensemble itself; list its members instead`);
  if (!(FRAMEWORKS as readonly string[]).includes(info.framework))
    throw new EnsembleError(`${join(dir, 'run.json')}: unknown framework '${String(info.framework)}'`);
  if (!metrics) throw new EnsembleError(`${dir}: no metrics.json (did training finish?)`);
  const probs = readTestProbs(dir);
  if (!probs) throw new EnsembleError(`${dir}: no test-probs.bin (did training finish?)`);
  const count = metrics.confusionMatrix.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  if (probs.length !== count * 10)
    throw new EnsembleError(
      `${dir}: test-probs.bin holds ${probs.length / 10} images but metrics.json counts ${count}`,
    );
  return { dir, info, metrics, probs, count };
}

/** Throws unless every member was evaluated on the same test images: the same count, labels and data. */
function checkSameData(members: Member[]): void {
  const [a] = members;
  for (const b of members.slice(1)) {
    const differ = (why: string) =>
      new EnsembleError(`members were evaluated on different data: ${a.dir} and ${b.dir} ${why}`);
    if (b.count !== a.count)
      throw differ(`have ${a.count} and ${b.count} test images (train them with the same --test-limit)`);
    if (supports(b.metrics) !== supports(a.metrics)) throw differ('have different test labels (per-class counts)');
    const da = a.info.data;
    const db = b.info.data;
    if (da && db && da.dir !== db.dir && !(da.verified && db.verified))
      throw differ(`used ${da.dir} and ${db.dir}, not both checksum-verified Fashion-MNIST`);
  }
}

/** Where `out` may go: new, an empty folder, or an earlier ensemble folder (which is replaced). */
function checkOut(out: string, members: readonly string[]): void {
  const o = real(out);
  for (const m of members) {
    const r = real(m);
    if (r === o) throw new EnsembleError(`--out ${out} is one of the members; pick a new folder`);
    if (r.startsWith(o + sep)) throw new EnsembleError(`--out ${out} contains the member ${m}; pick a new folder`);
    if (o.startsWith(r + sep)) throw new EnsembleError(`--out ${out} is inside the member ${m}; pick a new folder`);
  }
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new EnsembleError(`--out ${out} exists and is not a folder`);
  if (readdirSync(out).length === 0) return;
  let earlier = false;
  try {
    earlier = isEnsemble(readRun(out).info);
  } catch {
    // not a run folder
  }
  if (!earlier) throw new EnsembleError(`--out ${out} already exists and is not an ensemble folder; pick a new folder`);
}

/** Writes the folder under a temporary name beside `out`, then renames it into place (replacing an old one). */
function writeWhole(out: string, write: (dir: string) => void): void {
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const tag = tempTag();
  const tmp = join(parent, `.${basename(out)}.tmp-${tag}`);
  const old = join(parent, `.${basename(out)}.old-${tag}`);
  try {
    mkdirSync(tmp);
    write(tmp);
    if (existsSync(out)) {
      renameSync(out, old);
      try {
        renameSync(tmp, out);
      } catch (e) {
        renameSync(old, out);
        throw e;
      }
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Checks the members, averages their test-set probabilities and writes the ensemble folder. */
export async function buildEnsemble(o: EnsembleOptions): Promise<EnsembleResult> {
  const log = o.log ?? (() => {});
  const tta = o.tta ?? false;
  if (o.dirs.length < 2)
    throw new EnsembleError(
      `an ensemble needs at least 2 run folders, got ${o.dirs.length}${o.dirs.length ? `: ${o.dirs[0]}` : ''}`,
    );
  const dirs = o.dirs.map((d) => resolve(d));
  const out = resolve(o.out);
  const keys = dirs.map(real);
  keys.forEach((k, i) => {
    const j = keys.indexOf(k);
    if (j !== i) throw new EnsembleError(`${o.dirs[i]} is listed twice (also as ${o.dirs[j]})`);
  });
  checkOut(out, dirs);
  const members = dirs.map(readMember);
  checkSameData(members);
  const count = members[0].count;

  // Every member must load and run: the folder is of no use if one cannot (missing weights, say).
  const predictors: Predictor[] = [];
  try {
    for (const m of members) {
      try {
        predictors.push(await loadPredictor(m.dir, { tta: false }));
      } catch (e) {
        throw new EnsembleError((e as Error).message);
      }
    }

    const fm = await loadFashionMnist({ dataDir: o.dataDir });
    if (fm.test.count < count)
      throw new EnsembleError(
        `${fm.source.dir}: ${fm.test.count} test images, but the members were evaluated on ${count}`,
      );
    const labels = fm.test.labels.subarray(0, count);
    for (const m of members) {
      const acc = evaluateProbs(m.probs, labels, CLASS_NAMES).accuracy;
      if (Math.abs(acc - m.metrics.testAccuracy) > 1e-9)
        throw new EnsembleError(
          `the test labels in ${fm.source.dir} are not the ones ${m.dir} was evaluated on ` +
            `(its test-probs.bin scores ${acc.toFixed(4)} on them, its metrics.json says ${m.metrics.testAccuracy.toFixed(4)}); ` +
            'pass the --data-dir it was trained with',
        );
    }

    let probs: Float32Array;
    if (tta) {
      const images = fm.test.images.subarray(0, count * 784);
      const each: Float32Array[] = [];
      for (const [i, p] of predictors.entries()) {
        const views = viewsFor(members[i].info.config);
        log(`${members[i].dir}: ${views.length} test-time views (${viewNames(views)}) of ${count} test images`);
        each.push(await predictTta((x, n) => p.predict(x, n), images, count, views));
      }
      probs = averageProbs(each);
    } else probs = averageProbs(members.map((m) => m.probs));

    const list: EnsembleMember[] = members.map((m) => ({
      dir: m.dir,
      framework: m.info.framework as Framework,
      model: m.info.model,
      params: m.info.params,
    }));
    const first = members[0].info;
    const info: RunInfo = {
      framework: ENSEMBLE,
      model: ENSEMBLE,
      params: members.reduce((s, m) => s + m.info.params, 0),
      config: first.config,
      engine: Object.assign({}, ...members.map((m) => m.info.engine)) as Record<string, string>,
      definition:
        `mean of the class probabilities of ${members.length} runs` +
        (tta ? ', each averaged over the test-time views its training calls for' : '') +
        `: ${list.map((m) => `${runLabel(m.framework, m.model)} (${m.dir})`).join(', ')}`,
      modelFile: 'run.json',
      data: { ...first.data, testCount: count },
      createdAt: new Date().toISOString(),
      host: { cpus: availableParallelism(), node: process.version },
      members: list,
      tta,
    };
    const metrics: MetricsJson = {
      ...testMetrics(info, [], 0, probs, labels, CLASS_NAMES),
      trainSeconds: members.reduce((s, m) => s + m.metrics.trainSeconds, 0),
      ...(tta ? { tta: { views: unionOfViews(members.map((m) => viewsFor(m.info.config))) } } : {}),
    };
    writeWhole(out, (dir) => {
      writeTestProbs(dir, probs);
      writeMetrics(dir, metrics);
      writeRunInfo(dir, info);
      writeChecksums(dir);
    });
    return { dir: out, info, metrics, memberAccuracy: members.map((m) => m.metrics.testAccuracy) };
  } finally {
    for (const p of predictors) p.dispose();
  }
}
